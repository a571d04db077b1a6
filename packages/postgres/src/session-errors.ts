import { redact } from '@baton-lock/core'
import type { LockSession } from './lock-session.js'

/**
 * True when `err` means the connection, and so the session with its locks, is gone: a
 * socket error, or a FATAL/PANIC from the server (terminated, shutdown, idle timeout).
 * A plain SQL ERROR leaves the session alive.
 */
export function endsSession(err: unknown): boolean {
  const severity = (err as { severity?: unknown } | null)?.severity
  if (typeof severity === 'string') return severity === 'FATAL' || severity === 'PANIC'
  return err instanceof Error
}

/** The `lost` reason of every lease of a session that ended. */
export function sessionEndedError(session: LockSession, cause: unknown): Error {
  const detail = cause instanceof Error ? redact(cause.message) : 'connection closed'
  return new Error(`postgres: lock session (backend pid ${session.pid}) ended: ${detail}`, {
    cause,
  })
}
