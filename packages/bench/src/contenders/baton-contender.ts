import type { LockDriver } from '@baton-lock/core'
import type { BackendTarget, ContenderSpec, LockClient, Release } from '../lock-client.js'

const TTL_MS = 30_000

/**
 * Baton as an application uses it: a `Locker` (default options: renewal on) over a driver
 * built by `createDriver`, `acquire(key, { waitMs })` and `handle.release()`.
 * Core and the driver package are imported when the contender opens, so a driver that has
 * not landed (or fails to build) shows up as one failed row, not as a broken benchmark.
 */
export function batonContender(
  createDriver: (target: BackendTarget) => Promise<LockDriver>,
  name = 'Baton: Locker.acquire',
): ContenderSpec {
  return {
    name,
    role: 'baton',
    waits: true,
    async open(target: BackendTarget): Promise<LockClient> {
      const { Locker } = await import('@baton-lock/core')
      const locker = new Locker(await createDriver(target), { ttlMs: TTL_MS })
      return {
        async acquire(key: string, waitMs: number): Promise<Release | null> {
          if (waitMs === 0) {
            const handle = await locker.tryAcquire(key)
            return handle === null ? null : () => handle.release()
          }
          try {
            const handle = await locker.acquire(key, { waitMs })
            return () => handle.release()
          } catch (err) {
            if ((err as { code?: string }).code === 'LOCK_TIMEOUT') return null
            throw err
          }
        },
        async close() {
          await locker.close()
        },
      }
    },
  }
}
