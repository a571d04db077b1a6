import { createHash } from 'node:crypto'

/** The Redis names of one lock; all share the hash tag, so they live in one cluster slot. */
export interface LockKeys {
  /** String key holding the owner id, with the lease as its PX expiry. */
  readonly lock: string
  /** Hash key `{ n: <last fence>, key: <namespaced key> }`; never expires, so fences keep increasing. */
  readonly fence: string
  /** List of waiting owner ids, in arrival order (the fair queue). */
  readonly queue: string
  /** Sorted set of the same owner ids, scored by the server time (ms) their entry expires at. */
  readonly waiters: string
  /** Sorted set of shared holders' owner ids, scored by the server time (ms) each one's share expires at. */
  readonly readers: string
  /** Hash of the shared holders' fences (owner id -> fence); expires with the last reader. */
  readonly owners: string
  /** Pub/sub channel on which a release hands the lock to the head of the queue. */
  readonly channel: string
}

/** The Redis names of one semaphore: same hash tag as the lock of that key, other names. */
export interface SemaphoreKeys {
  /** Sorted set of permit holders' owner ids, scored by the server time (ms) each permit expires at. */
  readonly holders: string
  /** Hash `{ n: <last fence>, key, limit }`; never expires, so fences keep increasing. */
  readonly fence: string
  /** List of waiting owner ids, in arrival order. */
  readonly queue: string
  /** Sorted set of the same owner ids, scored by the server time (ms) their entry expires at. */
  readonly waiters: string
  /** Hash of the holders' fences (owner id -> fence); expires with the last permit. */
  readonly owners: string
  /** Pub/sub channel on which a release hands permits to the head of the queue. */
  readonly channel: string
}

/**
 * Maps a namespaced key to its Redis names: `<prefix>:{<tag>}:lock`, `:fence`, `:queue`,
 * `:waiters` and channel `<prefix>:{<tag>}:released`, where `<tag>` is the lowercase hex
 * SHA-256 of the key's UTF-8 bytes. The digest makes any key (braces, NUL, any Unicode, up to
 * `maxKeyBytes`) a fixed-length, brace-free hash tag, so the names always share one
 * Redis Cluster slot. Users can compute it too: `printf '%s' "$KEY" | sha256sum`.
 */
export function lockKeys(prefix: string, key: string): LockKeys {
  const base = baseOf(prefix, key)
  return {
    lock: `${base}:lock`,
    fence: `${base}:fence`,
    queue: `${base}:queue`,
    waiters: `${base}:waiters`,
    readers: `${base}:readers`,
    owners: `${base}:owners`,
    channel: `${base}:released`,
  }
}

/**
 * Maps a namespaced key to its semaphore's Redis names: `<prefix>:{<tag>}:sem:holders`,
 * `:sem:fence`, `:sem:queue`, `:sem:waiters`, `:sem:owners`, channel `:sem:released` (tag
 * as in `lockKeys`). No name is one of the lock's, so `semaphore('k')` never blocks lock `k`.
 */
export function semaphoreKeys(prefix: string, key: string): SemaphoreKeys {
  const base = `${baseOf(prefix, key)}:sem`
  return {
    holders: `${base}:holders`,
    fence: `${base}:fence`,
    queue: `${base}:queue`,
    waiters: `${base}:waiters`,
    owners: `${base}:owners`,
    channel: `${base}:released`,
  }
}

function baseOf(prefix: string, key: string): string {
  return `${prefix}:{${createHash('sha256').update(key, 'utf8').digest('hex')}}`
}

/** Keys whose layout a `LockKeyCache` remembers. */
const CACHED_KEYS = 1024

/**
 * `lockKeys` for one prefix, remembering the layout of the last 1024 distinct keys (about
 * 400 bytes each), so a key locked over and over costs no SHA-256 and no string building
 * per cycle. When full, the oldest entry goes (insertion order, no bookkeeping per hit).
 */
export class LockKeyCache<T = LockKeys> {
  readonly #prefix: string
  readonly #make: (prefix: string, key: string) => T
  readonly #cache = new Map<string, T>()

  constructor(prefix: string, make?: (prefix: string, key: string) => T) {
    this.#prefix = prefix
    this.#make = make ?? (lockKeys as unknown as (prefix: string, key: string) => T)
  }

  get prefix(): string {
    return this.#prefix
  }

  get(key: string): T {
    let keys = this.#cache.get(key)
    if (keys === undefined) {
      keys = this.#make(this.#prefix, key)
      if (this.#cache.size >= CACHED_KEYS) {
        const oldest = this.#cache.keys().next().value as string
        this.#cache.delete(oldest)
      }
      this.#cache.set(key, keys)
    }
    return keys
  }
}

/** SCAN pattern matching every lock key under `prefix` (glob metacharacters in the prefix escaped). */
export function lockKeyPattern(prefix: string): string {
  return `${prefix.replace(/[*?[\]\\]/g, '\\$&')}:{*}:lock`
}

/** The fence key belonging to a lock key found by SCAN. */
export function fenceKeyOf(lockKey: string): string {
  return `${lockKey.slice(0, -':lock'.length)}:fence`
}

/** The readers key belonging to a lock key found by SCAN. */
export function readersKeyOf(lockKey: string): string {
  return `${lockKey.slice(0, -':lock'.length)}:readers`
}
