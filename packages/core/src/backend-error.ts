import { isLockError, LockBackendError } from './errors.js'
import { redact } from './redact.js'

/**
 * Maps a raw error a driver threw to a `LockBackendError` with a redacted message and the
 * raw error as `cause`. Lock errors pass through unchanged.
 */
export function toBackendError(driver: string, err: unknown, key?: string): Error {
  if (isLockError(err)) return err
  const text = err instanceof Error ? err.message || err.name : String(err)
  return new LockBackendError(driver, redact(text), {
    ...(key === undefined ? {} : { key }),
    cause: err,
  })
}
