import { PG_LOCKS_KEY_MATCH } from './postgres-key.js'

/** The SQL a lock session sends, specialised once for the driver's fence sequence. */
export interface LockStatements {
  /** `present`: whether the fence sequence exists (checked first: creating needs CREATE on the schema). */
  readonly sequenceExists: string
  /** Creates the fence sequence unless it exists (`CACHE 1`, so values never go back). */
  readonly createSequence: string
  /** One attempt: `fence` is null when the key is taken, else the new fence. `$1` key. */
  readonly tryLock: string
  /** Server-side wait bounded by `lock_timeout` = `$2` (e.g. '250ms', '0' for none); then the fence. `$1` key. */
  readonly waitLock: string
  /** Releases a key this session holds; `released` is false when it did not hold it. `$1` key. */
  readonly unlock: string
  /** Releases `$1` only if this session holds it (no server warning otherwise): the late-grant sweep (S4). */
  readonly unlockIfHeld: string
  /** Heartbeat: the backend pid and how many single-bigint advisory locks it holds. */
  readonly heartbeat: string
  /** The bigint keys of every advisory lock this backend holds (only after a heartbeat mismatch). */
  readonly heldKeys: string
  /** The backend pids holding key `$1`, for `inspect` and `forceRelease`. */
  readonly holders: string
}

const OWN_LOCKS = "locktype = 'advisory' AND objsubid = 1 AND granted AND pid = pg_backend_pid()"

/**
 * Builds the statements for a fence sequence named `schema.name` (quoted here, so any
 * identifier works). The grant and the fence read are one statement, so an uncontended
 * acquire is one round trip; `CASE` evaluates `nextval` only when the lock was granted.
 * The wait runs `set_config`, `pg_advisory_lock` and `nextval` in that order through
 * materialized CTEs, so it is one round trip too.
 */
export function lockStatements(schema: string, name: string): LockStatements {
  const qualified = `${quoteIdent(schema)}.${quoteIdent(name)}`
  const regclass = `'${qualified.replaceAll("'", "''")}'`
  return Object.freeze({
    sequenceExists: `SELECT to_regclass(${regclass}) IS NOT NULL AS present`,
    createSequence: `CREATE SEQUENCE IF NOT EXISTS ${qualified} AS bigint CACHE 1 NO CYCLE`,
    tryLock: `SELECT CASE WHEN pg_try_advisory_lock($1::bigint) THEN nextval(${regclass})::text END AS fence, pg_backend_pid() AS pid`,
    waitLock: [
      "WITH timeout AS MATERIALIZED (SELECT set_config('lock_timeout', $2::text, false)),",
      'locked AS MATERIALIZED (SELECT pg_advisory_lock($1::bigint) FROM timeout)',
      `SELECT nextval(${regclass})::text AS fence, pg_backend_pid() AS pid FROM locked`,
    ].join(' '),
    unlock: 'SELECT pg_advisory_unlock($1::bigint) AS released',
    unlockIfHeld: `SELECT pg_advisory_unlock($1::bigint) AS released FROM pg_locks WHERE ${OWN_LOCKS} AND ((classid::bigint << 32) | objid::bigint) = $1::bigint`,
    heartbeat: `SELECT pg_backend_pid() AS pid, count(*)::int AS held FROM pg_locks WHERE ${OWN_LOCKS}`,
    heldKeys: `SELECT ((classid::bigint << 32) | objid::bigint)::text AS key FROM pg_locks WHERE ${OWN_LOCKS}`,
    holders: `SELECT pid FROM pg_locks WHERE granted AND ${PG_LOCKS_KEY_MATCH}`,
  })
}

/** Quotes an SQL identifier: `a"b` -> `"a""b"`. */
export function quoteIdent(identifier: string): string {
  if (identifier.length === 0)
    throw new TypeError('fence sequence schema and name must not be empty')
  return `"${identifier.replaceAll('"', '""')}"`
}
