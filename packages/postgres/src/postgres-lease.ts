import type { LeaseBook } from '@baton-lock/core/driver'
import type { LockSession } from './lock-session.js'

/** What the driver keeps per granted lease: where the advisory lock lives. */
export interface PostgresLease {
  /** The advisory key. */
  readonly hash: bigint
  /** The session whose backend holds the advisory lock. */
  readonly session: LockSession
}

/** The driver's lease book. */
export type PostgresLeases = LeaseBook<PostgresLease>

/** Loses every lease of `session` (it ended, and the server freed its locks). */
export function loseSession(book: PostgresLeases, session: LockSession, reason: unknown): void {
  book.loseWhere(({ data }) => data.session === session, reason)
}
