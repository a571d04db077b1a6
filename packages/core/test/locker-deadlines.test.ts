import { describe, expect, it } from 'vitest'
import type { DriverLease } from '../src/driver.js'
import { MemoryStore } from '../src/driver-kit/index.js'
import { isLockError, Locker, MemoryDriver } from '../src/index.js'
import { takenKeyCount } from '../src/key-queue.js'
import { ScriptedDriver } from './scripted-driver.js'

const hang = () => new Promise<never>(() => {})

async function until(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const started = performance.now()
  while (!condition()) {
    if (performance.now() - started > timeoutMs) throw new Error('condition not met in time')
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

async function elapsedOf(work: Promise<unknown>): Promise<{ ms: number; error: unknown }> {
  const started = performance.now()
  const error = await work.then(
    () => undefined,
    (e: unknown) => e,
  )
  return { ms: performance.now() - started, error }
}

describe('deadlines and aborts (real time, L3, S4)', () => {
  it('honours waitMs even when the driver never answers', async () => {
    const driver = new ScriptedDriver()
    driver.acquireImpl = hang
    await using locker = new Locker(driver, { closeDriver: false })
    const { ms, error } = await elapsedOf(locker.acquire('k', { waitMs: 200 }))
    expect(isLockError(error, 'LOCK_TIMEOUT')).toBe(true)
    expect(ms).toBeGreaterThanOrEqual(199)
    expect(ms).toBeLessThan(200 + 100 + 200) // L3 is 100 ms; 200 ms more for a loaded machine
    expect(driver.acquires[0]?.signal.aborted).toBe(true)
  })

  it('tryAcquire against a hung driver gives up after attemptTimeoutMs instead of hanging', async () => {
    const driver = new ScriptedDriver()
    driver.acquireImpl = hang
    await using locker = new Locker(driver, { closeDriver: false, attemptTimeoutMs: 150 })
    const { ms, error } = await elapsedOf(locker.tryAcquire('k'))
    expect(isLockError(error, 'LOCK_TIMEOUT')).toBe(true)
    expect(ms).toBeGreaterThanOrEqual(140)
    expect(ms).toBeLessThan(150 + 200)
  })

  it('tryAcquire waits for a slow first answer (a cold connect) instead of timing out', async () => {
    const driver = new ScriptedDriver()
    driver.acquireImpl = async (req) => {
      await new Promise((resolve) => setTimeout(resolve, 120))
      return driver.inner.acquire(req)
    }
    await using locker = new Locker(driver, { closeDriver: false })
    const lock = await locker.tryAcquire('slow')
    expect(lock?.isValid()).toBe(true)
    await lock?.release()
  })

  it('honours an abort at once even when the driver never answers', async () => {
    const driver = new ScriptedDriver()
    driver.acquireImpl = hang
    await using locker = new Locker(driver, { closeDriver: false })
    const ac = new AbortController()
    const pending = locker.acquire('k', { waitMs: 60_000, signal: ac.signal })
    setTimeout(() => ac.abort(new Error('user gave up')), 50)
    const { ms, error } = await elapsedOf(pending)
    expect(isLockError(error, 'LOCK_ABORTED')).toBe(true)
    expect((error as Error).cause).toMatchObject({ message: 'user gave up' })
    expect(ms).toBeLessThan(50 + 100 + 200)
    expect(driver.acquires[0]?.signal.aborted).toBe(true)
  })

  it('rejects at once when the signal is already aborted, without calling the driver', async () => {
    const driver = new ScriptedDriver()
    await using locker = new Locker(driver)
    const err = await locker
      .acquire('k', { signal: AbortSignal.abort('no') })
      .catch((e: unknown) => e)
    expect(isLockError(err, 'LOCK_ABORTED')).toBe(true)
    expect(driver.acquires).toHaveLength(0)
  })

  it('releases a grant that arrives after the deadline and never exposes it (S4)', async () => {
    const store = new MemoryStore()
    const driver = new ScriptedDriver(new MemoryDriver({ store }))
    let late: DriverLease | null = null
    driver.acquireImpl = async (req) => {
      late = await driver.inner.acquire({ ...req, signal: new AbortController().signal })
      await new Promise((resolve) => setTimeout(resolve, 300))
      return late
    }
    await using locker = new Locker(driver, { closeDriver: false })
    const err = await locker.acquire('k', { waitMs: 20 }).catch((e: unknown) => e)
    expect(isLockError(err, 'LOCK_TIMEOUT')).toBe(true)
    expect(late).not.toBeNull()
    await until(() => driver.releases.length === 1)
    expect(driver.releases[0]).toBe(late)
    expect(store.activeKeyCount).toBe(0)
    await until(() => takenKeyCount(driver) === 0)
    driver.acquireImpl = undefined
    const next = await locker.acquire('k', { waitMs: 1_000 })
    expect(next.fence).toBe(2n)
    await next.release()
  })

  it('close() rejects in-process and in-driver waiters with LockClosedError', async () => {
    const store = new MemoryStore()
    const driver = new MemoryDriver({ store })
    const locker = new Locker(driver)
    const other = new Locker(new MemoryDriver({ store }))
    const held = await other.acquire('k')
    const inDriver = locker.acquire('k', { waitMs: 60_000 }).catch((e: unknown) => e)
    await until(() => store.inspect('k') !== null)
    const mine = await locker.acquire('m')
    const inProcess = locker.acquire('m', { waitMs: 60_000 }).catch((e: unknown) => e)
    const { ms } = await elapsedOf(locker.close())
    expect(isLockError(await inDriver, 'LOCK_CLOSED')).toBe(true)
    expect(isLockError(await inProcess, 'LOCK_CLOSED')).toBe(true)
    expect(ms).toBeLessThan(1_000)
    expect(mine.state).toBe('released')
    expect(mine.signal.aborted).toBe(false)
    expect(takenKeyCount(driver)).toBe(0)
    expect(store.inspect('m')).toBeNull()
    expect(store.inspect('k')?.owner).toBe(held.owner)
    await other.close()
    expect(store.activeKeyCount).toBe(0)
  })

  it('close() does not hang on a driver call that never answers', async () => {
    const driver = new ScriptedDriver()
    driver.acquireImpl = hang
    const locker = new Locker(driver)
    const pending = locker.acquire('k', { waitMs: 60_000 }).catch((e: unknown) => e)
    await until(() => driver.acquires.length === 1)
    const { ms } = await elapsedOf(locker.close())
    expect(ms).toBeLessThan(1_000)
    expect(isLockError(await pending, 'LOCK_CLOSED')).toBe(true)
    expect(driver.closed).toBe(1)
  })
})
