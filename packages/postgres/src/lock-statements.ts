import { PG_LOCKS_KEY_MATCH } from './postgres-key.js'

/** The SQL a lock session sends, specialised once for the driver's fence sequence. */
export interface LockStatements {
  /** `present`: whether the fence sequence exists (checked first: creating needs CREATE on the schema). */
  readonly sequenceExists: string
  /** Creates the fence sequence unless it exists (`CACHE 1`, so values never go back). */
  readonly createSequence: string
  /** One attempt: `fence` is null when the key is taken, else the new fence. `$1` key. */
  readonly tryLock: string
  /**
   * Server-side wait bounded by `lock_timeout` = `$2` (e.g. '250ms', '0' for none); then the
   * fence. A try first: `waited` is false when the key was free (no wait, no lock queue). `$1` key.
   */
  readonly waitLock: string
  /** Releases a key this session holds; `released` is false when it did not hold it. `$1` key. */
  readonly unlock: string
  /** Releases `$1` only if this session holds it (no server warning otherwise): the late-grant sweep (S4). */
  readonly unlockIfHeld: string
  /** Like `tryLock`, in shared mode (`pg_try_advisory_lock_shared`). `$1` key. */
  readonly tryShared: string
  /** Like `waitLock`, in shared mode (`pg_try_advisory_lock_shared`, `pg_advisory_lock_shared`). `$1` key, `$2` lock_timeout. */
  readonly waitShared: string
  /** Releases one shared hold of `$1`; `released` is false when this session held none. */
  readonly unlockShared: string
  /** Releases a shared hold of `$1` only if this session has one: the late-grant sweep of a shared wait. */
  readonly unlockSharedIfHeld: string
  /**
   * One semaphore attempt, `$1` semaphore key (int4), `$2` limit: takes the limit marker
   * (`$1`, -`$2`) shared, then reads the lowest other limit that holders' markers name
   * (`held_limit`, null when none), then, only when that is null, takes the first free slot
   * of 0..`$2`-1 and the fence; without a slot the marker is dropped again.
   * Columns: held_limit, slot, fence, pid.
   */
  readonly semaphoreTry: string
  /**
   * Releases slot `$3` and the marker of semaphore `$1` with limit `$2` (`released` for the
   * slot), and wakes the semaphore's waiters with a notification on channel `$4`.
   */
  readonly semaphoreUnlock: string
  /** Heartbeat: the backend pid and how many keys and semaphore slots it holds. */
  readonly heartbeat: string
  /** The claims (bigint keys, semaphore claims) this backend holds (only after a heartbeat mismatch). */
  readonly heldKeys: string
  /** The backend pid and mode (`ExclusiveLock` or `ShareLock`) of every holder of key `$1`. */
  readonly holders: string
  /** `holders`: slots of semaphore `$1` held now; `lowest`/`highest`: the limits their markers name. */
  readonly semaphoreHolders: string
  /** Creates the election value table unless it exists (first election with a value). */
  readonly createValueTable: string
  /** Records the value `$4` of owner `$2` (fence `$3`) holding key `$1` on this backend. */
  readonly storeValue: string
  /** Removes owner `$2`'s value of key `$1` (with its release). */
  readonly clearValue: string
  /** owner, fence, value of key `$1` recorded by backend `$2`, only while that very backend lives. */
  readonly readValue: string
}

const OWN_LOCKS = "locktype = 'advisory' AND objsubid = 1 AND granted AND pid = pg_backend_pid()"
/** A plain key (objsubid 1) or a semaphore slot (objsubid 2, second int4 >= 0) this session holds. */
const OWN_HOLDS =
  "locktype = 'advisory' AND granted AND pid = pg_backend_pid() AND (objsubid = 1 OR (objsubid = 2 AND objid::bigint < 2147483648))"
/** `pg_locks` rows of semaphore `$1` (int4; `classid` is its unsigned reading). */
const SEMAPHORE_ROWS =
  "locktype = 'advisory' AND objsubid = 2 AND granted AND classid::bigint = ($1::bigint & 4294967295)"
/** The limit a marker row (second int4 negative, so `objid` >= 2^31) names. */
const MARKER_LIMIT = '(4294967296 - objid::bigint)'
const IS_MARKER = 'objid::bigint >= 2147483648'

/**
 * Builds the statements for a fence sequence named `schema.name` (quoted here, so any
 * identifier works). The grant and the fence read are one statement, so an uncontended
 * acquire is one round trip; `CASE` evaluates `nextval` only when the lock was granted.
 * The wait runs `set_config`, `pg_try_advisory_lock`, `pg_advisory_lock` (only when the try
 * found the key taken: `CASE` evaluates one branch) and `nextval` in that order through
 * nested subqueries, so it is one round trip too, and says whether it waited: a driver may
 * send it without a try in front.
 */
export function lockStatements(schema: string, name: string): LockStatements {
  const qualified = `${quoteIdent(schema)}.${quoteIdent(name)}`
  const regclass = `'${qualified.replaceAll("'", "''")}'`
  // Each level computes its columns from the row of the level inside it, so the steps run
  // in this order: the timeout, the try, the wait (only when the try found the key taken:
  // CASE evaluates one branch; the void result of the wait casts to '', so `waited` reads
  // true), the fence. A subquery with OFFSET 0 is never flattened into its parent. Unlike
  // the MATERIALIZED CTEs this used before, it keeps no tuplestore: in a two-process trace
  // the CTEs cost a hand-off 15-25 µs more on the server after the waiter's wake-up.
  const tryThenWait = (tryLock: string, lock: string) => [
    `SELECT nextval(${regclass})::text AS fence, pg_backend_pid() AS pid, waited FROM (`,
    `SELECT CASE WHEN ${tryLock}($1::bigint) THEN false ELSE ${lock}($1::bigint)::text IS NOT NULL END AS waited`,
    "FROM (SELECT set_config('lock_timeout', $2::text, false) OFFSET 0) timeout OFFSET 0) locked",
  ]
  const values = `${quoteIdent(schema)}.${quoteIdent(`${name}_values`)}`
  const ownKey = `${OWN_LOCKS} AND ((classid::bigint << 32) | objid::bigint) = $1::bigint`
  return Object.freeze({
    sequenceExists: `SELECT to_regclass(${regclass}) IS NOT NULL AS present`,
    createSequence: `CREATE SEQUENCE IF NOT EXISTS ${qualified} AS bigint CACHE 1 NO CYCLE`,
    tryLock: `SELECT CASE WHEN pg_try_advisory_lock($1::bigint) THEN nextval(${regclass})::text END AS fence, pg_backend_pid() AS pid`,
    waitLock: tryThenWait('pg_try_advisory_lock', 'pg_advisory_lock').join(' '),
    unlock: 'SELECT pg_advisory_unlock($1::bigint) AS released',
    unlockIfHeld: `SELECT pg_advisory_unlock($1::bigint) AS released FROM pg_locks WHERE ${ownKey} AND mode = 'ExclusiveLock'`,
    tryShared: `SELECT CASE WHEN pg_try_advisory_lock_shared($1::bigint) THEN nextval(${regclass})::text END AS fence, pg_backend_pid() AS pid`,
    waitShared: tryThenWait('pg_try_advisory_lock_shared', 'pg_advisory_lock_shared').join(' '),
    unlockShared: 'SELECT pg_advisory_unlock_shared($1::bigint) AS released',
    unlockSharedIfHeld: `SELECT pg_advisory_unlock_shared($1::bigint) AS released FROM pg_locks WHERE ${ownKey} AND mode = 'ShareLock'`,
    // Each step is a MATERIALIZED CTE that reads the one before, so they run in this order.
    // The marker comes first, so that of two first holders with different limits at least
    // one sees the other's marker; CASE (not AND) so that no slot is tried on a mismatch;
    // LIMIT 1 ends the scan at the first slot granted.
    semaphoreTry: [
      'WITH marker AS MATERIALIZED (SELECT pg_try_advisory_lock_shared($1::int, -$2::int) AS taken),',
      `other AS MATERIALIZED (SELECT (SELECT min(${MARKER_LIMIT}) FROM pg_locks WHERE m.taken AND ${SEMAPHORE_ROWS}`,
      `AND ${IS_MARKER} AND ${MARKER_LIMIT} <> $2::bigint) AS held_limit FROM marker m),`,
      'slot AS MATERIALIZED (SELECT s FROM other o, generate_series(0, $2::int - 1) s',
      'WHERE CASE WHEN o.held_limit IS NULL THEN pg_try_advisory_lock($1::int, s) ELSE false END LIMIT 1)',
      'SELECT o.held_limit::int AS held_limit, s.s AS slot,',
      `CASE WHEN s.s IS NOT NULL THEN nextval(${regclass})::text END AS fence, pg_backend_pid() AS pid,`,
      'CASE WHEN s.s IS NULL THEN pg_advisory_unlock_shared($1::int, -$2::int) END AS dropped',
      'FROM other o LEFT JOIN slot s ON true',
    ].join(' '),
    semaphoreUnlock: [
      'SELECT pg_advisory_unlock($1::int, $3::int) AS released,',
      "pg_advisory_unlock_shared($1::int, -$2::int) AS marker, pg_notify($4::text, '') AS woken",
    ].join(' '),
    // a slot of semaphore k counts as the claim (k << 32) | 0x7fffffff (see semaphoreClaim)
    heartbeat: `SELECT pg_backend_pid() AS pid, count(*)::int AS held FROM pg_locks WHERE ${OWN_HOLDS}`,
    heldKeys: [
      'SELECT (CASE WHEN objsubid = 1 THEN (classid::bigint << 32) | objid::bigint',
      'ELSE (classid::bigint << 32) | 2147483647 END)::text AS key',
      `FROM pg_locks WHERE ${OWN_HOLDS}`,
    ].join(' '),
    holders: `SELECT pid, mode FROM pg_locks WHERE granted AND ${PG_LOCKS_KEY_MATCH}`,
    createValueTable: `CREATE TABLE IF NOT EXISTS ${values} (key bigint PRIMARY KEY, pid int NOT NULL, backend_start timestamptz NOT NULL, owner text NOT NULL, fence bigint NOT NULL, value text NOT NULL)`,
    storeValue: [
      `INSERT INTO ${values} AS v (key, pid, backend_start, owner, fence, value)`,
      'SELECT $1::bigint, pid, backend_start, $2::text, $3::bigint, $4::text FROM pg_stat_activity WHERE pid = pg_backend_pid()',
      'ON CONFLICT (key) DO UPDATE SET pid = EXCLUDED.pid, backend_start = EXCLUDED.backend_start,',
      'owner = EXCLUDED.owner, fence = EXCLUDED.fence, value = EXCLUDED.value',
    ].join(' '),
    clearValue: `DELETE FROM ${values} WHERE key = $1::bigint AND owner = $2::text`,
    readValue: [
      `SELECT v.owner, v.fence::text AS fence, v.value FROM ${values} v`,
      'JOIN pg_stat_activity a ON a.pid = v.pid AND a.backend_start = v.backend_start',
      'WHERE v.key = $1::bigint AND v.pid = $2::int',
    ].join(' '),
    semaphoreHolders: [
      `SELECT count(*) FILTER (WHERE NOT ${IS_MARKER})::int AS holders,`,
      `min(${MARKER_LIMIT}) FILTER (WHERE ${IS_MARKER})::int AS lowest,`,
      `max(${MARKER_LIMIT}) FILTER (WHERE ${IS_MARKER})::int AS highest`,
      `FROM pg_locks WHERE ${SEMAPHORE_ROWS}`,
    ].join(' '),
  })
}

/** Quotes an SQL identifier: `a"b` -> `"a""b"`. */
export function quoteIdent(identifier: string): string {
  if (identifier.length === 0)
    throw new TypeError('fence sequence schema and name must not be empty')
  return `"${identifier.replaceAll('"', '""')}"`
}
