import { describe, expect, it } from 'vitest'
import type { RenewResult } from '../src/driver.js'
import { isLockError, type LockEvent, Locker, LockLostError, MemoryDriver } from '../src/index.js'
import { CountingClock, FakeClock } from './fake-clock.js'
import { deferred, ScriptedDriver } from './scripted-driver.js'

// Fake time starts at 1000. With ttlMs 3000 a lock acquired at 1000 is valid until
// 1000 + 3000 * 0.99 - 2 = 3968, renews at 2000 and is overdue (suspended) from 2500.
const T0 = 1_000
const TTL = 3_000
const VALID_UNTIL = T0 + TTL * 0.99 - 2

function setup(options: { renewMany?: boolean; renew?: boolean } = {}) {
  const clock = new FakeClock(T0)
  const driver = new ScriptedDriver(new MemoryDriver({ clock }), {
    renewMany: options.renewMany ?? true,
  })
  const events: LockEvent[] = []
  const locker = new Locker(driver, {
    clock,
    ttlMs: TTL,
    renew: options.renew ?? true,
    onEvent: (e) => events.push(e),
  })
  const types = () => events.map((e) => e.type)
  return { clock, driver, locker, events, types }
}

describe('renewal timing (fake clock)', () => {
  it('renews at a third of the TTL and moves validUntil from the time the renewal was sent', async () => {
    const { clock, driver, locker, types } = setup()
    const lock = await locker.acquire('k')
    expect(lock.validForMs()).toBe(VALID_UNTIL - T0)
    await clock.advanceTo(T0 + 999)
    expect(driver.renewManyCalls).toHaveLength(0)
    await clock.advanceTo(T0 + 1_000)
    expect(driver.renewManyCalls).toHaveLength(1)
    expect(driver.renewManyCalls[0]?.ttlMs).toBe(TTL)
    expect(lock.validForMs()).toBe(TTL * 0.99 - 2)
    await clock.advanceTo(T0 + 2_000)
    expect(driver.renewManyCalls).toHaveLength(2)
    expect(types()).toEqual(['acquired', 'renewed', 'renewed'])
    await locker.close()
  })

  it('takes sentAtMs before the call: a slow reply does not stretch validity', async () => {
    const { clock, driver, locker } = setup()
    const reply = deferred<RenewResult>()
    driver.renewImpl = () => reply.promise
    const lock = await locker.acquire('k')
    await clock.advanceTo(T0 + 1_000) // renewal sent here
    await clock.advanceTo(T0 + 1_400)
    expect(lock.validForMs()).toBe(VALID_UNTIL - (T0 + 1_400)) // unchanged until the reply
    reply.resolve({ ok: true, ttlMs: TTL })
    await clock.advance(0)
    expect(lock.validForMs()).toBe(T0 + 1_000 + TTL * 0.99 - 2 - (T0 + 1_400))
    expect(lock.state).toBe('held')
    driver.renewImpl = undefined
    await locker.close()
  })

  it('is suspended while a confirmation is overdue and lost exactly at validUntil (N1, N4)', async () => {
    const { clock, driver, locker, types } = setup()
    const reply = deferred<RenewResult>()
    driver.renewImpl = () => reply.promise
    const lock = await locker.acquire('k')
    await clock.advanceTo(T0 + 1_499)
    expect(lock.state).toBe('held')
    await clock.advanceTo(T0 + 1_500)
    expect(types()).toEqual(['acquired', 'suspended']) // by the timer, before anyone looks
    expect(lock.state).toBe('suspended')
    expect(lock.isValid()).toBe(true)
    await clock.advanceTo(VALID_UNTIL - 1)
    expect(lock.signal.aborted).toBe(false)
    await clock.advanceTo(VALID_UNTIL)
    expect(lock.state).toBe('lost')
    expect(lock.signal.aborted).toBe(true)
    expect(lock.signal.reason).toBeInstanceOf(LockLostError)
    expect((lock.signal.reason as LockLostError).reason).toBe('expired')
    expect(types()).toEqual(['acquired', 'suspended', 'lost'])
    // S6: a confirmation that arrives after validUntil does not resurrect the handle.
    reply.resolve({ ok: true, ttlMs: TTL })
    await clock.advance(0)
    expect(lock.state).toBe('lost')
    expect(lock.isValid()).toBe(false)
    expect(() => lock.assertValid()).toThrow(LockLostError)
    driver.renewImpl = undefined
    await locker.close()
  })

  it('suspends on a failed renewal, retries, and returns to held on confirmation', async () => {
    const { clock, driver, locker, types } = setup()
    let failures = 1
    driver.renewImpl = (lease, ttlMs) =>
      failures-- > 0 ? Promise.reject(new Error('ECONNRESET')) : driver.inner.renew(lease, ttlMs)
    const lock = await locker.acquire('k')
    await clock.advanceTo(T0 + 1_000)
    expect(lock.state).toBe('suspended')
    await clock.advanceTo(T0 + 1_000 + TTL / 6) // retry delay: min(ttl / 6, 1 s)
    expect(lock.state).toBe('held')
    expect(lock.validForMs()).toBe(TTL * 0.99 - 2)
    expect(types()).toEqual(['acquired', 'suspended', 'renewed'])
    await locker.close()
  })

  it('is lost at once with reason "server" when a renewal says { ok: false }', async () => {
    const { clock, driver, locker } = setup()
    driver.renewImpl = async () => ({ ok: false })
    const lock = await locker.acquire('k')
    await clock.advanceTo(T0 + 1_000)
    expect(lock.state).toBe('lost')
    expect((lock.signal.reason as LockLostError).reason).toBe('server')
    await expect(lock.extend()).rejects.toBeInstanceOf(LockLostError)
    await lock.release() // never throws for a lock already gone
    await locker.close()
  })

  it('is lost at once with reason "driver" when the driver aborts lease.lost (N2)', async () => {
    const { driver, locker, events } = setup()
    const lock = await locker.acquire('k')
    await driver.inner.dropLock({ key: 'k' })
    expect(lock.state).toBe('lost')
    expect((lock.signal.reason as LockLostError).reason).toBe('driver')
    const lost = events.find((e) => e.type === 'lost')
    expect(lost).toMatchObject({ key: 'k', fence: lock.fence })
    await locker.close()
  })

  it('with renew: false, lapses exactly at validUntil', async () => {
    const { clock, driver, locker } = setup({ renew: false })
    const lock = await locker.acquire('k')
    await clock.advanceTo(VALID_UNTIL - 1)
    expect(lock.isValid()).toBe(true)
    expect(driver.renewManyCalls).toHaveLength(0)
    await clock.advanceTo(VALID_UNTIL)
    expect(lock.state).toBe('lost')
    await locker.close()
  })

  it('isValid() is false from validUntil on even if no timer ran (S7)', async () => {
    const { clock, locker } = setup()
    const lock = await locker.acquire('k')
    clock.jumpTo(VALID_UNTIL - 0.5)
    expect(lock.isValid()).toBe(true)
    expect(lock.validForMs()).toBe(0.5)
    clock.jumpTo(VALID_UNTIL)
    expect(lock.isValid()).toBe(false)
    expect(lock.validForMs()).toBe(0)
    expect(lock.signal.aborted).toBe(true)
    expect(() => lock.assertValid()).toThrow(LockLostError)
    await locker.close()
  })

  it('extend(ttlMs) renews now with the new TTL, and later renewals keep it', async () => {
    const { clock, driver, locker } = setup()
    const lock = await locker.acquire('k')
    await clock.advanceTo(T0 + 500)
    await lock.extend(6_000)
    expect(driver.renewManyCalls).toHaveLength(0)
    expect(driver.renews.at(-1)?.ttlMs).toBe(6_000)
    expect(lock.validForMs()).toBe(6_000 * 0.99 - 2)
    await clock.advanceTo(T0 + 500 + 1_999)
    expect(driver.renewManyCalls).toHaveLength(0)
    await clock.advanceTo(T0 + 500 + 2_000)
    expect(driver.renewManyCalls.map((c) => c.ttlMs)).toEqual([6_000])
    await locker.close()
  })

  it('extend() of a released handle throws LockClosedError; a failing extend throws LockBackendError', async () => {
    const { driver, locker } = setup()
    const lock = await locker.acquire('k')
    driver.renewImpl = () => Promise.reject(new Error('redis://u:hunter2@h down'))
    const err = await lock.extend().catch((e: unknown) => e)
    expect(isLockError(err, 'LOCK_BACKEND')).toBe(true)
    expect((err as Error).message).not.toContain('hunter2')
    expect(lock.state).toBe('suspended')
    driver.renewImpl = undefined
    await lock.release()
    await expect(lock.extend()).rejects.toMatchObject({ code: 'LOCK_CLOSED' })
    await locker.close()
  })

  it('release() waits for a renewal in flight', async () => {
    const { clock, driver, locker } = setup()
    const reply = deferred<RenewResult>()
    driver.renewImpl = () => reply.promise
    const lock = await locker.acquire('k')
    await clock.advanceTo(T0 + 1_000)
    let released = false
    const releasing = lock.release().then(() => {
      released = true
    })
    await clock.advance(0)
    expect(driver.releases).toHaveLength(0)
    expect(released).toBe(false)
    reply.resolve({ ok: true, ttlMs: TTL })
    await releasing
    expect(driver.releases).toHaveLength(1)
    expect(lock.state).toBe('released')
    await locker.close()
  })

  it('batches handles due within the window into one renewMany call', async () => {
    const { clock, driver, locker } = setup()
    await locker.acquire('a')
    await clock.advanceTo(T0 + 400)
    await locker.acquire('b') // due at 2400, may go from 1900
    await clock.advanceTo(T0 + 1_000)
    expect(driver.renewManyCalls.map((c) => c.leases.map((l) => l.key))).toEqual([['a', 'b']])
    await locker.close()
  })

  it('renews lease by lease when the driver has no renewMany', async () => {
    const { clock, driver, locker } = setup({ renewMany: false })
    await locker.acquire('a')
    await locker.acquire('b')
    await clock.advanceTo(T0 + 1_000)
    expect(driver.renews.map((r) => r.lease.key).sort()).toEqual(['a', 'b'])
    await locker.close()
  })

  it('waits exactly waitMs for a held key, in process and across drivers', async () => {
    const { clock, locker } = setup()
    const other = new Locker(
      new MemoryDriver({ store: (locker.driver as ScriptedDriver).inner.store }),
      { clock },
    )
    await locker.acquire('k')
    let sameErr: unknown
    let otherErr: unknown
    const same = locker.acquire('k', { waitMs: 500 }).catch((e: unknown) => {
      sameErr = e
    })
    const across = other.acquire('k', { waitMs: 500 }).catch((e: unknown) => {
      otherErr = e
    })
    await clock.advanceTo(T0 + 499)
    expect(sameErr).toBeUndefined()
    expect(otherErr).toBeUndefined()
    await clock.advanceTo(T0 + 500)
    await Promise.all([same, across])
    expect(isLockError(sameErr, 'LOCK_TIMEOUT')).toBe(true)
    expect(isLockError(otherErr, 'LOCK_TIMEOUT')).toBe(true)
    await other.close()
    await locker.close()
  })
})

describe('scale (fake clock)', () => {
  it('holds 10,000 locks with one timer and renews them in one renewMany call', async () => {
    const clock = new FakeClock(T0)
    const lockerClock = new CountingClock(clock)
    const driver = new ScriptedDriver(new MemoryDriver({ clock }))
    const locker = new Locker(driver, { clock: lockerClock, ttlMs: TTL })
    const handles = []
    for (let i = 0; i < 10_000; i++) handles.push(await locker.acquire(`key-${i}`))
    expect(lockerClock.pendingTimers).toBe(1)
    await clock.advanceTo(T0 + 1_000)
    expect(driver.renewManyCalls).toHaveLength(1)
    expect(driver.renewManyCalls[0]?.leases).toHaveLength(10_000)
    expect(lockerClock.pendingTimers).toBe(1)
    expect(handles.every((h) => h.isValid())).toBe(true)
    await locker.close()
    expect(lockerClock.pendingTimers).toBe(0)
    expect(driver.inner.store.activeKeyCount).toBe(0)
    expect(clock.pendingTimers).toBe(0)
  })
})
