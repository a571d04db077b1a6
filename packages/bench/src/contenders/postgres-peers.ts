import advisoryLockModule from 'advisory-lock'
import type { BackendTarget, ContenderSpec, LockClient, Release } from '../lock-client.js'

// advisory-lock is CommonJS with `exports.default`: Node's ESM default import is module.exports,
// while bundler-style interop (vitest) already unwraps `default`.
type CreateMutexFactory = typeof advisoryLockModule.default
const interop = advisoryLockModule as unknown as
  | CreateMutexFactory
  | { default: CreateMutexFactory }
const advisoryLock: CreateMutexFactory = typeof interop === 'function' ? interop : interop.default

/**
 * advisory-lock 2.x: opens a new connection for every lock, `pg_try_advisory_lock` for one
 * attempt and a blocking `pg_advisory_lock` (server-side wait, no timeout) to wait, then
 * unlocks and closes that connection on release.
 */
export const advisoryLockPeer: ContenderSpec = {
  name: 'peer: advisory-lock',
  role: 'peer',
  waits: true,
  async open(target: BackendTarget): Promise<LockClient> {
    const createMutex = advisoryLock(target.url)
    return {
      async acquire(key: string, waitMs: number): Promise<Release | null> {
        const mutex = createMutex(key)
        if (waitMs === 0) return (await mutex.tryLock()) ?? null
        return mutex.lock()
      },
      async close() {},
    }
  },
}
