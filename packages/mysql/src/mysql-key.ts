import { createHash } from 'node:crypto'

/** Characters of the key kept readable at the front of the lock name. */
const READABLE_CHARS = 16
/** Hex digits of the SHA-256 digest at the end of the lock name (188 bits). */
const DIGEST_HEX = 47

/**
 * The SQL expression that computes the same lock name as `lockName()`, with `@k` standing
 * for the namespaced key (a utf8mb4 string). An operator can check or take a Baton lock
 * from the `mariadb` or `mysql` client with it, e.g.
 * `SET @k = 'jobs:nightly'; SELECT IS_USED_LOCK(CONCAT(LEFT(@k, 16), '~', LEFT(SHA2(@k, 256), 47)))`.
 * Runs on MySQL 5.7+ and MariaDB 10.0.2+ (the connection character set must be utf8mb4).
 */
export const LOCK_NAME_SQL = "CONCAT(LEFT(@k, 16), '~', LEFT(SHA2(@k, 256), 47))"

/**
 * Maps a namespaced key onto a `GET_LOCK` name that both servers accept and keep apart:
 * the key's first 16 characters (for people reading `SHOW PROCESSLIST` or the metadata
 * lock tables), `~`, and the first 47 lowercase hex digits of the SHA-256 of its UTF-8
 * bytes. At most 64 characters (MySQL 8's limit; MariaDB allows 192 bytes, and 16
 * characters of 4 bytes plus 48 are 112). MySQL 8 compares lock names case-insensitively
 * and MariaDB case-sensitively; two different keys differ in the lowercase digest, so
 * their names differ on both servers whatever the case of the readable part, and the
 * digest at the end also makes trailing-space padding irrelevant. Two keys collide with
 * probability about n^2 / 2^189 for n keys in use at once.
 */
export function lockName(key: string): string {
  let name = recent.get(key)
  if (name === undefined) {
    const digest = createHash('sha256').update(key, 'utf8').digest('hex')
    // LEFT() counts characters (code points) in utf8mb4, as Array.from does
    const readable = Array.from(key).slice(0, READABLE_CHARS).join('')
    name = `${readable}~${digest.slice(0, DIGEST_HEX)}`
    if (recent.size >= RECENT_KEYS) recent.clear()
    recent.set(key, name)
  }
  return name
}

/** Keys mapped lately: the same lock is usually taken again and again. */
const recent = new Map<string, string>()
const RECENT_KEYS = 1_024

/** Hex digits of the SHA-256 digest in a semaphore's names (160 bits). */
const SEMAPHORE_DIGEST_HEX = 40

/**
 * The `GET_LOCK` names of semaphore `key`: permit `i` (0 to limit - 1) is the name
 * `slot(i)`, and `base` names the semaphore's fence row (and is never locked itself). They
 * are the key's first 16 characters, `~`, 40 hex digits of its SHA-256, `!` and the slot
 * number (or `s` for the base): at most 62 characters. A lock name ends in `~` and 47 hex
 * digits, so no semaphore name is ever a lock name (`semaphore('k')` and `acquire('k')` never
 * meet). In SQL, slot `@i` of key `@k` is
 * `CONCAT(LEFT(@k, 16), '~', LEFT(SHA2(@k, 256), 40), '!', @i)`.
 */
export interface SemaphoreNames {
  readonly base: string
  slot(index: number): string
}

/** The names of semaphore `key` (see `SemaphoreNames`). */
export function semaphoreNames(key: string): SemaphoreNames {
  const digest = createHash('sha256').update(key, 'utf8').digest('hex')
  const stem = `${Array.from(key).slice(0, READABLE_CHARS).join('')}~${digest.slice(0, SEMAPHORE_DIGEST_HEX)}!`
  return { base: `${stem}s`, slot: (index) => `${stem}${index}` }
}
