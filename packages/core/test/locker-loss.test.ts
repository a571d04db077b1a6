import { describe, expect, it } from 'vitest'
import { Locker, type LockLostError, MemoryDriver } from '../src/index.js'
import { FakeClock } from './fake-clock.js'

// Fake time starts at 1000; a lock with ttlMs 3000 renews first at 2000.
const T0 = 1_000
const TTL = 3_000

describe('loss signal without an event listener (fake clock)', () => {
  function quiet() {
    const clock = new FakeClock(T0)
    const driver = new MemoryDriver({ clock })
    return { clock, driver, locker: new Locker(driver, { clock, ttlMs: TTL }) }
  }

  it('a reader of signal sees it abort at once (N2)', async () => {
    const { driver, locker } = quiet()
    const lock = await locker.acquire('k')
    const signal = lock.signal
    await driver.dropLock({ key: 'k' })
    expect(signal.aborted).toBe(true)
    expect((signal.reason as LockLostError).reason).toBe('driver')
    await locker.close()
  })

  it('a synchronous check sees the loss at once', async () => {
    const { driver, locker } = quiet()
    const lock = await locker.acquire('k')
    await driver.dropLock({ key: 'k' })
    expect(lock.isValid()).toBe(false)
    expect(() => lock.assertValid()).toThrow(expect.objectContaining({ reason: 'driver' }))
    await locker.close()
  })

  it('an acquire queued in process behind the handle gets the key at once', async () => {
    const { clock, driver, locker } = quiet()
    const lock = await locker.acquire('k')
    const next = locker.acquire('k', { waitMs: 60_000 })
    await clock.advance(0)
    await driver.dropLock({ key: 'k' })
    const handle = await next
    expect(handle.fence).toBe(lock.fence + 1n)
    expect(clock.now()).toBe(T0)
    await locker.close()
  })

  it('the timer finds an unobserved loss by the next renewal time', async () => {
    const { clock, driver, locker } = quiet()
    const lock = await locker.acquire('k')
    await driver.dropLock({ key: 'k' })
    await clock.advanceTo(T0 + TTL / 3)
    expect(lock.state).toBe('lost')
    expect(lock.signal.aborted).toBe(true)
    expect((lock.signal.reason as LockLostError).reason).toBe('driver')
    await locker.close()
  })
})
