import type { LockSession } from './lock-session.js'

/**
 * What the server allows, read once per driver: how many connection slots it has and
 * how big its shared lock table is. Session advisory locks live in that table, which
 * every session of the server shares: when it is full, even a new connection fails
 * (`FATAL: out of shared memory`), so the driver must never fill it.
 */
export interface ServerLimits {
  /** `max_connections`. */
  readonly maxConnections: number
  /** Slots ordinary roles cannot use: `superuser_reserved_connections` (+ `reserved_connections`, PostgreSQL 16+). */
  readonly reservedConnections: number
  /** Client connections open when the driver connected (every database, every role). */
  readonly connectionsInUse: number
  /** `max_locks_per_transaction`. */
  readonly maxLocksPerTransaction: number
  /** `max_prepared_transactions`. */
  readonly maxPreparedTransactions: number
}

const LIMITS_SQL = `SELECT current_setting('max_connections')::int AS max_connections,
  current_setting('superuser_reserved_connections')::int
    + coalesce(nullif(current_setting('reserved_connections', true), ''), '0')::int AS reserved,
  (SELECT count(*)::int FROM pg_stat_activity WHERE backend_type = 'client backend') AS in_use,
  current_setting('max_locks_per_transaction')::int AS max_locks,
  current_setting('max_prepared_transactions')::int AS max_prepared`

/** Reads the limits on one of the driver's sessions (one round trip). */
export async function readServerLimits(session: LockSession): Promise<ServerLimits> {
  const { rows } = await session.query<{
    max_connections: number
    reserved: number
    in_use: number
    max_locks: number
    max_prepared: number
  }>(LIMITS_SQL)
  const row = rows[0]
  if (row === undefined) throw new Error('postgres: could not read the server limits')
  return {
    maxConnections: row.max_connections,
    reservedConnections: row.reserved,
    connectionsInUse: row.in_use,
    maxLocksPerTransaction: row.max_locks,
    maxPreparedTransactions: row.max_prepared,
  }
}

/**
 * Default session cap on this server: half of the connection slots that were free when
 * the driver connected (never below 2), so the driver leaves room for the application,
 * operators and other lock processes.
 */
export function defaultSessionCap(limits: ServerLimits): number {
  const free = limits.maxConnections - limits.reservedConnections - limits.connectionsInUse
  return Math.max(2, Math.floor(free / 2))
}

/** Slots of the shared lock table: `max_locks_per_transaction x (max_connections + max_prepared_transactions)`. */
export function lockTableSlots(limits: ServerLimits): number {
  return limits.maxLocksPerTransaction * (limits.maxConnections + limits.maxPreparedTransactions)
}

/** Default cap on the locks one driver holds: half of the shared lock table. */
export function defaultHeldLockCap(limits: ServerLimits): number {
  return Math.max(1, Math.floor(lockTableSlots(limits) / 2))
}

/** The error an acquire fails with when the driver already holds `held` locks, its cap. */
export function lockTableFullError(held: number, limits: ServerLimits): Error {
  return new Error(
    `postgres: refusing a new lock: this driver already holds ${held} advisory locks, its share of ` +
      `the server's shared lock table (max_locks_per_transaction ${limits.maxLocksPerTransaction} x ` +
      `(max_connections ${limits.maxConnections} + max_prepared_transactions ` +
      `${limits.maxPreparedTransactions}) = ${lockTableSlots(limits)} slots for every session). ` +
      'Raise max_locks_per_transaction, or set the maxHeldLocks option',
  )
}

/** True for SQLSTATE 53300 (too_many_connections): "sorry, too many clients already", reserved slots. */
export function isTooManyConnections(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === '53300'
}
