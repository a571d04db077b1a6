import { isLockError } from '@baton-lock/core'
import type { AcquireOutcome } from './semantics.js'

/** The outcome an acquire's error stands for. */
export function outcomeOf(err: unknown): AcquireOutcome {
  if (isLockError(err, 'LOCK_TIMEOUT')) return 'timeout'
  if (isLockError(err, 'LOCK_ABORTED')) return 'aborted'
  return 'error'
}

/** The Baton error code, else the error's class name: never its message (it names the key). */
export function errorType(err: unknown): string {
  if (isLockError(err)) return err.code
  if (err instanceof Error) return err.name
  return typeof err
}

/** A loss's `LockLostReason`, or `unknown` for an error core did not build. */
export function lostReason(error: Error): string {
  return isLockError(error, 'LOCK_LOST') ? error.reason : 'unknown'
}
