import type { LockerOptions } from '@baton-lock/core'
import { Locker } from '@baton-lock/core'
import { toBackendError } from '@baton-lock/core/driver'
import { createDriver } from './create-driver.js'
import { DEFAULT_URL } from './lock-url.js'

/**
 * Opens a `Locker` on the backend a URL names (DESIGN section 9):
 * `memory:`, `sqlite:PATH`, `redis://`, `rediss://`, `postgres://`, `postgresql://`.
 * The driver package is imported on first use; a missing one fails with the
 * `npm install` line to run. `options` go to the Locker unchanged (namespace, ttlMs,
 * onEvent, ...). It awaits the driver's `ready()`, so an unreachable server fails here
 * with a redacted `LockBackendError`. Without a URL: `BATON_URL`, else `sqlite:.baton/locks.db`.
 */
export async function connect(url?: string, options: LockerOptions = {}): Promise<Locker> {
  const driver = await createDriver(url ?? defaultUrl())
  if (driver.ready !== undefined) {
    // Settle server-dependent capabilities (e.g. Redis persistence) before the first lock.
    try {
      await driver.ready()
    } catch (err) {
      await driver.close().catch(() => undefined)
      throw toBackendError(driver.name, err)
    }
  }
  return new Locker(driver, options)
}

/** `BATON_URL` when set and non-empty, else the embedded default `sqlite:.baton/locks.db`. */
export function defaultUrl(): string {
  const fromEnv = process.env.BATON_URL
  return fromEnv === undefined || fromEnv.trim() === '' ? DEFAULT_URL : fromEnv
}
