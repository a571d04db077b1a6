import { describe, expect, it } from 'vitest'
import { MemoryStore } from '../src/driver-kit/index.js'
import { isLockError, Locker, MemoryDriver } from '../src/index.js'

describe('Locker over MemoryDriver (real time)', () => {
  it('grants an uncontended key with an increasing fence and releases it', async () => {
    await using locker = new Locker(new MemoryDriver())
    const first = await locker.acquire('a')
    expect(first.state).toBe('held')
    expect(first.isValid()).toBe(true)
    expect(first.owner).toMatch(/^[0-9a-f]{32}$/)
    await first.release()
    expect(first.state).toBe('released')
    const second = await locker.acquire('a')
    expect(second.fence).toBeGreaterThan(first.fence)
    await second.release()
  })

  it('excludes a second holder until release, then hands over', async () => {
    const store = new MemoryStore()
    await using a = new Locker(new MemoryDriver({ store }))
    await using b = new Locker(new MemoryDriver({ store }))
    const held = await a.acquire('k')
    expect(await b.tryAcquire('k')).toBeNull()
    const waiting = b.acquire('k', { waitMs: 5_000 })
    await held.release()
    const next = await waiting
    expect(next.fence).toBeGreaterThan(held.fence)
    await next.release()
  })

  it('never re-enters: a second acquire on the same driver waits its turn (S5)', async () => {
    const driver = new MemoryDriver()
    await using one = new Locker(driver, { closeDriver: false })
    await using two = new Locker(driver, { closeDriver: false })
    const held = await one.acquire('s5')
    expect(await one.tryAcquire('s5')).toBeNull()
    expect(await two.tryAcquire('s5')).toBeNull()
    const waiter = two.acquire('s5', { waitMs: 5_000 })
    await held.release()
    const next = await waiter
    expect(next.fence).toBe(held.fence + 1n)
    await next.release()
  })

  it('times out with LockTimeoutError', async () => {
    await using locker = new Locker(new MemoryDriver())
    const held = await locker.acquire('t')
    const err = await locker.acquire('t', { waitMs: 50 }).catch((e: unknown) => e)
    expect(isLockError(err, 'LOCK_TIMEOUT')).toBe(true)
    await held.release()
  })

  it('aborts with LockAbortedError carrying the reason', async () => {
    await using locker = new Locker(new MemoryDriver())
    const held = await locker.acquire('ab')
    const ac = new AbortController()
    const pending = locker.acquire('ab', { waitMs: 10_000, signal: ac.signal })
    ac.abort(new Error('stop'))
    const err = await pending.catch((e: unknown) => e)
    expect(isLockError(err, 'LOCK_ABORTED')).toBe(true)
    expect((err as Error).cause).toEqual(new Error('stop'))
    await held.release()
  })

  it('close rejects waiters with LockClosedError and frees held locks', async () => {
    const store = new MemoryStore()
    const locker = new Locker(new MemoryDriver({ store }))
    await locker.acquire('c')
    const waiter = locker.acquire('c', { waitMs: 10_000 }).catch((e: unknown) => e)
    await locker.close()
    expect(isLockError(await waiter, 'LOCK_CLOSED')).toBe(true)
    expect(store.activeKeyCount).toBe(0)
    await expect(locker.acquire('c')).rejects.toMatchObject({ code: 'LOCK_CLOSED' })
  })
})
