import { LockDeadlockError, redact } from '@baton-lock/core/driver'
import type { LockSession } from './lock-session.js'

/**
 * True when `err` means the connection, and so the session with its locks, is gone: mysql2
 * marks those `fatal` (socket errors, the server closing the session after `KILL`,
 * `wait_timeout` or a shutdown). A plain SQL error leaves the session alive.
 */
export function endsSession(err: unknown): boolean {
  const fatal = (err as { fatal?: unknown } | null)?.fatal
  if (typeof fatal === 'boolean') return fatal
  return err instanceof Error && (err as { errno?: unknown }).errno === undefined
}

/** The `lost` reason of every lease of a session that ended. */
export function sessionEndedError(session: LockSession, cause: unknown): Error {
  const detail = cause instanceof Error ? redact(cause.message) : 'connection closed'
  return new Error(`mysql: lock session (connection id ${session.id}) ended: ${detail}`, {
    cause,
  })
}

/** Deadlock found when trying to get lock: MariaDB (1213, tested on 10.11) and MySQL 8 (3058, ER_USER_LOCK_DEADLOCK). */
const DEADLOCK_ERRNOS: ReadonlySet<unknown> = new Set([1213, 3058])

/** A `LockDeadlockError` for a wait the server ended as a deadlock; any other error as it is. */
export function deadlockOr(err: unknown, key: string): unknown {
  if (!DEADLOCK_ERRNOS.has((err as { errno?: unknown }).errno)) return err
  return new LockDeadlockError('mysql', key, err)
}
