import type { LeaseBook, LockMode } from '@baton-lock/core/driver'
import type { LockSession, RowQuery } from './lock-session.js'

/** What the driver keeps per granted lease: where the advisory lock lives. */
export interface PostgresLease {
  /** The session claim: the advisory key, or the semaphore's claim (`semaphoreClaim`). */
  readonly hash: bigint
  /** The session whose backend holds the advisory lock. */
  readonly session: LockSession
  /** The request's mode. */
  readonly mode: LockMode
  /** Releases exactly this grant; its first column is true when something was released. */
  readonly unlock: RowQuery
  /** The request carried an election value, recorded in the value table with the grant. */
  readonly valued: boolean
}

/** The driver's lease book. */
export type PostgresLeases = LeaseBook<PostgresLease>

/** Loses every lease of `session` (it ended, and the server freed its locks). */
export function loseSession(book: PostgresLeases, session: LockSession, reason: unknown): void {
  book.loseWhere(({ data }) => data.session === session, reason)
}
