import { describe, expect, it } from 'vitest'
import { MemoryStore } from '../src/driver-kit/index.js'
import { isLockError, Locker, MemoryDriver } from '../src/index.js'
import { canonicalOrder } from '../src/lock-set.js'
import { ScriptedDriver } from './scripted-driver.js'

function setup(count: number) {
  const store = new MemoryStore()
  const lockers = Array.from(
    { length: count },
    () => new Locker(new MemoryDriver({ store }), { namespace: 'app', waitMs: 5_000 }),
  )
  return { store, lockers, close: () => Promise.all(lockers.map((l) => l.close())) }
}

describe('acquireAll', () => {
  it('takes the keys in UTF-8 byte order, whatever the input order', async () => {
    const driver = new ScriptedDriver()
    await using locker = new Locker(driver)
    // UTF-16 order would put U+FFFD before U+1F600 (a surrogate pair); UTF-8 byte order does not.
    const keys = ['b', '\u{1F600}', 'a', '\uFFFD', 'B']
    const set = await locker.acquireAll(keys)
    expect(driver.acquires.map((r) => r.key)).toEqual(['B', 'a', 'b', '\uFFFD', '\u{1F600}'])
    expect(set.locks.map((l) => l.key)).toEqual(['B', 'a', 'b', '\uFFFD', '\u{1F600}'])
    expect(canonicalOrder(keys)).toEqual(['B', 'a', 'b', '\uFFFD', '\u{1F600}'])
    expect(set.get('a')?.key).toBe('a')
    expect(set.get('zzz')).toBeUndefined()
    expect(set.isValid()).toBe(true)
    expect(() => set.assertValid()).not.toThrow()
    expect(set.validForMs()).toBeGreaterThan(0)
    await set.release()
    await set.release()
    expect(set.isValid()).toBe(false)
    expect(driver.releases).toHaveLength(5)
  })

  it('is all or nothing: on timeout the keys taken are released, and the error is a LockTimeoutError', async () => {
    const { lockers, close } = setup(3)
    const [a, b, c] = lockers as [Locker, Locker, Locker]
    const blocker = await b.acquire('m')
    const err = await a.acquireAll(['z', 'm', 'a'], { waitMs: 50 }).catch((e: unknown) => e)
    expect(isLockError(err, 'LOCK_TIMEOUT')).toBe(true)
    expect(err).toMatchObject({ key: 'm', waitMs: 50 })
    for (const key of ['a', 'z']) {
      const free = await c.tryAcquire(key)
      expect(free, key).not.toBeNull()
      await free?.release()
    }
    await blocker.release()
    const set = await a.acquireAll(['z', 'm', 'a'], { waitMs: 50 })
    expect(set.locks).toHaveLength(3)
    await set[Symbol.asyncDispose]()
    expect(await c.tryAcquire('m').then((l) => l?.release())).toBeUndefined()
    await close()
  })

  it('two callers with overlapping sets in opposite input order both finish (no deadlock)', async () => {
    const { lockers, close } = setup(2)
    const [a, b] = lockers as [Locker, Locker]
    let inside = 0
    let overlapped = false
    const run = async (locker: Locker, keys: string[]) => {
      for (let round = 0; round < 20; round++) {
        await locker.withAll(
          keys,
          async () => {
            inside++
            if (inside > 1) overlapped = true
            await new Promise((resolve) => setImmediate(resolve))
            inside--
          },
          { waitMs: 5_000 },
        )
      }
    }
    await Promise.all([run(a, ['x', 'y', 'z']), run(b, ['z', 'y', 'x'])])
    expect(overlapped).toBe(false)
    await close()
  })

  it('rejects an empty, oversized, repeated or non-array key list before any backend call', async () => {
    const driver = new ScriptedDriver()
    await using locker = new Locker(driver)
    await expect(locker.acquireAll([])).rejects.toThrow(RangeError)
    await expect(locker.acquireAll(['a', 'b', 'a'])).rejects.toThrow(/distinct; "a" is repeated/)
    await expect(
      locker.acquireAll(Array.from({ length: 1001 }, (_, i) => `k${i}`)),
    ).rejects.toThrow(RangeError)
    await expect(locker.acquireAll('a' as never)).rejects.toThrow(TypeError)
    await expect(locker.acquireAll(['a', 1 as never])).rejects.toThrow(TypeError)
    await expect(locker.acquireAll(['a', ''])).rejects.toThrow(RangeError)
    await expect(locker.acquireAll(['a'], { waitMs: -1 })).rejects.toThrow(RangeError)
    await expect(locker.withAll(['a'], null as never)).rejects.toThrow(TypeError)
    expect(driver.acquires).toHaveLength(0)
  })

  it('stops at an abort with LockAbortedError and leaves nothing held', async () => {
    const { lockers, close } = setup(2)
    const [a, b] = lockers as [Locker, Locker]
    const blocker = await b.acquire('b')
    const stop = new AbortController()
    const taking = a.acquireAll(['a', 'b'], { signal: stop.signal }).catch((e: unknown) => e)
    await new Promise((resolve) => setTimeout(resolve, 20))
    stop.abort()
    expect(isLockError(await taking, 'LOCK_ABORTED')).toBe(true)
    const free = await b.tryAcquire('a')
    expect(free).not.toBeNull()
    await Promise.all([free?.release(), blocker.release()])
    await close()
  })

  it('LockSet.signal aborts with the lost lock\u2019s LockLostError when one lock of the set is lost', async () => {
    const { store, lockers, close } = setup(1)
    const [a] = lockers as [Locker]
    const set = await a.acquireAll(['p', 'q'])
    const q = set.get('q')
    expect(set.signal.aborted).toBe(false)
    store.drop('app:q', { owner: q?.owner as string })
    expect(set.signal.aborted).toBe(true)
    expect(isLockError(set.signal.reason, 'LOCK_LOST')).toBe(true)
    expect(set.signal.reason).toMatchObject({ key: 'q' })
    expect(set.isValid()).toBe(false)
    expect(() => set.assertValid()).toThrow(/lock "q"/)
    expect(set.get('p')?.isValid()).toBe(true)
    await set.release()
    await close()
  })

  it('withAll releases every key even when fn throws, and takes shared sets', async () => {
    const { lockers, close } = setup(2)
    const [a, b] = lockers as [Locker, Locker]
    const boom = new Error('boom')
    await expect(
      a.withAll(['x', 'y'], () => {
        throw boom
      }),
    ).rejects.toBe(boom)
    const modes = await a.withAll(
      ['x', 'y'],
      async (set) => {
        const other = await b.acquireAll(['y', 'x'], { mode: 'shared', waitMs: 0 })
        await other.release()
        return set.locks.map((l) => l.mode)
      },
      { mode: 'shared' },
    )
    expect(modes).toEqual(['shared', 'shared'])
    const all = await b.acquireAll(['x', 'y'], { waitMs: 0 })
    await all.release()
    await close()
  })
})
