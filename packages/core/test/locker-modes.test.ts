import { describe, expect, it } from 'vitest'
import { defineCapabilities, MemoryStore } from '../src/driver-kit/index.js'
import {
  isLockError,
  Locker,
  type LockHandle,
  LockUnsupportedError,
  MemoryDriver,
} from '../src/index.js'
import { ScriptedDriver } from './scripted-driver.js'

/** A driver that declares the mutex only: core must never send it another mode. */
class MutexOnlyDriver extends ScriptedDriver {
  override readonly name: string = 'mutex-only'
  override readonly capabilities = defineCapabilities({ inspect: true })
}

/** Lockers on separate drivers sharing one store, in one namespace. */
function lockers(count: number): Locker[] {
  const store = new MemoryStore()
  return Array.from(
    { length: count },
    () => new Locker(new MemoryDriver({ store }), { namespace: 'app', waitMs: 5_000 }),
  )
}

async function closeAll(all: readonly Locker[]): Promise<void> {
  await Promise.all(all.map((l) => l.close()))
}

/** Whether `promise` is still pending after the event loop had a few turns. */
async function pending(promise: Promise<unknown>): Promise<boolean> {
  const marker = Symbol('pending')
  const turn = new Promise((resolve) => setTimeout(resolve, 20, marker))
  return (
    (await Promise.race([
      promise.then(
        () => 'settled',
        () => 'settled',
      ),
      turn,
    ])) === marker
  )
}

describe('Locker: shared locks', () => {
  it('many readers hold a key at once, in one Locker and across Lockers; a writer is excluded', async () => {
    const [a, b] = lockers(2) as [Locker, Locker]
    const readers = [
      await a.acquire('k', { mode: 'shared' }),
      await a.acquire('k', { mode: 'shared' }),
      await b.acquire('k', { mode: 'shared' }),
    ]
    expect(readers.map((r) => r.mode)).toEqual(['shared', 'shared', 'shared'])
    expect(new Set(readers.map((r) => r.owner)).size).toBe(3)
    expect(await a.tryAcquire('k')).toBeNull()
    expect(await b.tryAcquire('k')).toBeNull()
    expect(await a.inspect('k')).toMatchObject({ held: true, mode: 'shared', holders: 3 })
    for (const r of readers) await r.release()
    const writer = await b.tryAcquire('k')
    expect(writer?.mode).toBe('exclusive')
    expect(await a.tryAcquire('k', { mode: 'shared' })).toBeNull()
    await writer?.release()
    await closeAll([a, b])
  })

  it('a waiting writer is not starved: later readers queue behind it (R2)', async () => {
    const [a, b, c] = lockers(3) as [Locker, Locker, Locker]
    const first = await a.acquire('k', { mode: 'shared' })
    const order: string[] = []
    const writer = b.acquire('k').then((w) => {
      order.push('writer')
      return w
    })
    expect(await pending(writer)).toBe(true)
    const reader = c.acquire('k', { mode: 'shared' }).then((r) => {
      order.push('reader')
      return r
    })
    expect(await pending(reader)).toBe(true)
    await first.release()
    const w = await writer
    expect(await pending(reader)).toBe(true)
    await w.release()
    const r = await reader
    expect(order).toEqual(['writer', 'reader'])
    expect(r.fence > w.fence && w.fence > first.fence).toBe(true)
    await r.release()
    await closeAll([a, b, c])
  })

  it('withLock takes a shared lock with mode shared and releases it after', async () => {
    const [a, b] = lockers(2) as [Locker, Locker]
    const seen = await a.withLock(
      'k',
      async (lock) => {
        const other = await b.tryAcquire('k', { mode: 'shared' })
        await other?.release()
        return [lock.mode, other !== null]
      },
      { mode: 'shared' },
    )
    expect(seen).toEqual(['shared', true])
    expect(await b.tryAcquire('k').then((l) => l?.release())).toBeUndefined()
    await closeAll([a, b])
  })

  it('throws LockUnsupportedError naming the driver and the feature, before any backend call', async () => {
    const driver = new MutexOnlyDriver()
    await using locker = new Locker(driver)
    const err = await locker.acquire('k', { mode: 'shared' }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(LockUnsupportedError)
    expect(err).toMatchObject({ driver: 'mutex-only', feature: 'shared locks' })
    expect((err as Error).message).toBe('the mutex-only driver does not support shared locks')
    await expect(locker.tryAcquire('k', { mode: 'shared' })).rejects.toBeInstanceOf(
      LockUnsupportedError,
    )
    await expect(locker.acquireAll(['a', 'b'], { mode: 'shared' })).rejects.toBeInstanceOf(
      LockUnsupportedError,
    )
    expect(() => locker.semaphore('s', { limit: 2 })).toThrow(
      'the mutex-only driver does not support semaphores',
    )
    expect(driver.acquires).toHaveLength(0)
    const lock = await locker.acquire('k')
    expect(driver.acquires[0]?.mode).toBe('exclusive')
    await lock.release()
  })

  it('rejects a mode that is not exclusive or shared with a TypeError', async () => {
    const driver = new ScriptedDriver()
    await using locker = new Locker(driver)
    for (const mode of ['read', 'semaphore', 1, null]) {
      const err = await locker.acquire('k', { mode: mode as never }).catch((e: unknown) => e)
      expect(err, String(mode)).toBeInstanceOf(TypeError)
    }
    await expect(locker.tryAcquire('k', { mode: 'write' as never })).rejects.toThrow(TypeError)
    await expect(locker.withLock('k', () => 1, { mode: 'x' as never })).rejects.toThrow(TypeError)
    expect(driver.acquires).toHaveLength(0)
  })
})

describe('Locker: semaphores', () => {
  it('validates the limit: an integer from 1 to 10 000', async () => {
    await using locker = new Locker(new MemoryDriver())
    for (const limit of [0, -1, 1.5, 10_001, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => locker.semaphore('s', { limit }), String(limit)).toThrow(RangeError)
    }
    expect(() => locker.semaphore('s', { limit: '2' as never })).toThrow(TypeError)
    expect(() => locker.semaphore('s', undefined as never)).toThrow(TypeError)
    expect(() => locker.semaphore('', { limit: 1 })).toThrow(RangeError)
    expect(locker.semaphore('s', { limit: 10_000 }).limit).toBe(10_000)
  })

  it('admits exactly limit holders, each a handle of mode semaphore, and wakes a waiter on release', async () => {
    const [a, b] = lockers(2) as [Locker, Locker]
    const sa = a.semaphore('s', { limit: 3 })
    const sb = b.semaphore('s', { limit: 3 })
    const permits: LockHandle[] = []
    for (const s of [sa, sb, sa]) permits.push((await s.tryAcquire()) as LockHandle)
    expect(permits.map((p) => p?.mode)).toEqual(['semaphore', 'semaphore', 'semaphore'])
    expect(await sb.tryAcquire()).toBeNull()
    expect(await sa.inspect()).toMatchObject({ held: true, holders: 3, limit: 3 })
    const waiting = sb.acquire()
    expect(await pending(waiting)).toBe(true)
    await permits[1]?.release()
    const next = await waiting
    expect(next.fence).toBe(4n)
    await sb
      .withLock(
        async () => {
          throw new Error('unreachable: the semaphore is full')
        },
        { waitMs: 0 },
      )
      .catch((e: unknown) => expect(isLockError(e, 'LOCK_TIMEOUT')).toBe(true))
    for (const p of [permits[0], permits[2], next]) await p?.release()
    expect(await sa.withLock((p) => p.fence)).toBe(5n)
    expect(await sa.inspect()).toEqual({ held: false })
    await closeAll([a, b])
  })

  it('is separate from the lock of the same key', async () => {
    const [a, b] = lockers(2) as [Locker, Locker]
    const lock = await a.acquire('k')
    const p = await b.semaphore('k', { limit: 1 }).tryAcquire()
    expect(p).not.toBeNull()
    expect(await b.tryAcquire('k')).toBeNull()
    await lock.release()
    const again = await b.tryAcquire('k')
    expect(again).not.toBeNull()
    await again?.release()
    await p?.release()
    await closeAll([a, b])
  })

  it('a limit other than the holders\u2019 rejects with LockLimitMismatchError naming the user key', async () => {
    const [a, b] = lockers(2) as [Locker, Locker]
    const p = await a.semaphore('s', { limit: 2 }).acquire()
    const err = await b
      .semaphore('s', { limit: 5 })
      .acquire()
      .catch((e: unknown) => e)
    expect(isLockError(err, 'LOCK_LIMIT_MISMATCH')).toBe(true)
    expect(err).toMatchObject({ key: 's', limit: 5, heldLimit: 2 })
    expect((err as Error).message).toBe(
      'semaphore "s" is held with limit 2; this acquire asked for limit 5',
    )
    // Nothing was left held: the second permit of the right limit is free.
    const q = await b.semaphore('s', { limit: 2 }).tryAcquire()
    expect(q).not.toBeNull()
    await Promise.all([p.release(), q?.release()])
    await closeAll([a, b])
  })

  it('a semaphore acquire takes no mode, and validates its options like a lock acquire', async () => {
    await using locker = new Locker(new MemoryDriver())
    const s = locker.semaphore('s', { limit: 1 })
    await expect(s.acquire({ mode: 'shared' } as never)).rejects.toThrow(TypeError)
    await expect(s.acquire(null as never)).rejects.toThrow(TypeError)
    await expect(s.acquire({ ttlMs: 0 })).rejects.toThrow(RangeError)
    await expect(s.tryAcquire({ ttlMs: -1 })).rejects.toThrow(RangeError)
    await expect(s.withLock(null as never)).rejects.toThrow(TypeError)
  })
})
