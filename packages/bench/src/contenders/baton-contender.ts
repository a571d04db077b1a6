import type { LockDriver, Locker } from '@baton-lock/core'
import type { BackendTarget, ContenderSpec, LockClient, Release } from '../lock-client.js'

const TTL_MS = 30_000

/** Which grant a Baton contender asks for: the exclusive lock (default), a shared lock, a permit. */
export type BatonMode =
  | { readonly mode: 'exclusive' }
  | { readonly mode: 'shared' }
  | { readonly mode: 'semaphore'; readonly limit: number }

const EXCLUSIVE: BatonMode = { mode: 'exclusive' }

/**
 * Baton as an application uses it: a `Locker` (default options: renewal on) over a driver
 * built by `createDriver`, `acquire(key, { waitMs })` and `handle.release()`; in `mode`
 * shared, `acquire(key, { mode: 'shared' })`, in mode semaphore `locker.semaphore(key,
 * { limit }).acquire()`. Core and the driver package are imported when the contender
 * opens, so a driver that has not landed (or fails to build) shows up as one failed row,
 * not as a broken benchmark.
 */
export function batonContender(
  createDriver: (target: BackendTarget) => Promise<LockDriver>,
  name = 'Baton: Locker.acquire',
  mode: BatonMode = EXCLUSIVE,
): ContenderSpec {
  return {
    name,
    role: 'baton',
    waits: true,
    async open(target: BackendTarget): Promise<LockClient> {
      const { Locker } = await import('@baton-lock/core')
      const locker = new Locker(await createDriver(target), { ttlMs: TTL_MS })
      return batonClient(locker, mode)
    },
  }
}

/** A `LockClient` over `locker` asking for `mode`; `close` closes the Locker. */
export function batonClient(locker: Locker, mode: BatonMode = EXCLUSIVE): LockClient {
  const take =
    mode.mode === 'semaphore'
      ? (key: string, waitMs: number) =>
          waitMs === 0
            ? locker.semaphore(key, { limit: mode.limit }).tryAcquire()
            : locker.semaphore(key, { limit: mode.limit }).acquire({ waitMs })
      : (key: string, waitMs: number) =>
          waitMs === 0
            ? locker.tryAcquire(key, { mode: mode.mode })
            : locker.acquire(key, { waitMs, mode: mode.mode })
  return {
    async acquire(key: string, waitMs: number): Promise<Release | null> {
      try {
        const handle = await take(key, waitMs)
        return handle === null ? null : () => handle.release()
      } catch (err) {
        if ((err as { code?: string }).code === 'LOCK_TIMEOUT') return null
        throw err
      }
    },
    async close() {
      await locker.close()
    },
  }
}
