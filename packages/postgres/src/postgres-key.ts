import { createHash } from 'node:crypto'

/**
 * The SQL expression that computes the same advisory-lock key as `advisoryKey()`, with
 * `$1` standing for the namespaced key as text. An operator can check or take a Baton
 * lock from psql with it, e.g.
 * `SELECT pg_try_advisory_lock(('x' || substr(md5(convert_to('jobs:nightly', 'UTF8')), 1, 16))::bit(64)::bigint)`.
 */
export const ADVISORY_KEY_SQL =
  "('x' || substr(md5(convert_to($1, 'UTF8')), 1, 16))::bit(64)::bigint"

/**
 * Maps a namespaced key onto PostgreSQL's 64-bit advisory-lock key space: the first 8
 * bytes of the MD5 digest of the key's UTF-8 bytes, read as a big-endian signed integer.
 * Deterministic across processes, hosts and PostgreSQL versions; MD5 is used only as a
 * well-spread hash that every PostgreSQL has built in, not for security. Two different
 * keys collide with probability about n^2 / 2^65 for n keys in use at once; a collision
 * makes the two keys exclude each other (never the reverse).
 */
export function advisoryKey(key: string): bigint {
  let hash = recent.get(key)
  if (hash === undefined) {
    hash = createHash('md5').update(key, 'utf8').digest().readBigInt64BE(0)
    if (recent.size >= RECENT_KEYS) recent.clear()
    recent.set(key, hash)
  }
  return hash
}

/** Keys hashed lately: the same lock is usually taken again and again. */
const recent = new Map<string, bigint>()
const RECENT_KEYS = 1_024

/**
 * Matches an advisory lock row of `pg_locks` taken with the single-bigint form: PostgreSQL
 * stores the high 32 bits in `classid`, the low 32 bits in `objid` and sets `objsubid = 1`.
 * `$1` is the bigint key.
 */
export const PG_LOCKS_KEY_MATCH =
  "locktype = 'advisory' AND objsubid = 1 AND ((classid::bigint << 32) | objid::bigint) = $1::bigint"

/**
 * The SQL expression that computes `semaphoreKey()`, with `$1` standing for the namespaced
 * semaphore key as text: the first 4 bytes of the same MD5 digest, as a signed int4.
 */
export const SEMAPHORE_KEY_SQL = "('x' || substr(md5(convert_to($1, 'UTF8')), 1, 8))::bit(32)::int"

/**
 * Maps a namespaced semaphore key onto the first int4 of PostgreSQL's two-int4 advisory
 * locks (`pg_advisory_lock(int4, int4)`), a key space apart from the single-bigint locks
 * of `advisoryKey()`: a semaphore never blocks the lock of the same name. The second int4
 * is the permit's slot (0 to limit - 1), or `-limit` for the marker every holder keeps
 * shared. Two semaphore keys collide with probability about n^2 / 2^33 for n semaphores in
 * use at once; colliding semaphores share their slots, which only ever admits fewer.
 */
export function semaphoreKey(key: string): number {
  return Number(advisoryKey(key) >> 32n)
}

/**
 * The bigint a session's `claimed`/`held` sets use for semaphore `semKey`: the high half is
 * the semaphore key, the low half 0x7fffffff, which no slot uses. `pg_locks` rows of the
 * semaphore's slots map onto it as `(classid::bigint << 32) | 2147483647`.
 */
export function semaphoreClaim(semKey: number): bigint {
  return BigInt.asIntN(64, (BigInt(semKey >>> 0) << 32n) | 0x7fffffffn)
}

/** The LISTEN/NOTIFY channel on which releases of semaphore `semKey` wake its waiters. */
export function semaphoreChannel(semKey: number): string {
  return `baton_sem_${(semKey >>> 0).toString(16).padStart(8, '0')}`
}
