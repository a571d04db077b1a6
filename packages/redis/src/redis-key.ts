import { createHash } from 'node:crypto'

/** The Redis names of one lock; all three share the hash tag, so they live in one cluster slot. */
export interface LockKeys {
  /** String key holding the owner id, with the lease as its PX expiry. */
  readonly lock: string
  /** Hash key `{ n: <last fence>, key: <namespaced key> }`; never expires, so fences keep increasing. */
  readonly fence: string
  /** Pub/sub channel that release and forceRelease publish on. */
  readonly channel: string
}

/**
 * Maps a namespaced key to its Redis names: `<prefix>:{<tag>}:lock`, `<prefix>:{<tag>}:fence`
 * and channel `<prefix>:{<tag>}:released`, where `<tag>` is the lowercase hex SHA-256 of the
 * key's UTF-8 bytes. The digest makes any key (braces, NUL, any Unicode, up to
 * `maxKeyBytes`) a fixed-length, brace-free hash tag, so the three names always share one
 * Redis Cluster slot. Users can compute it too: `printf '%s' "$KEY" | sha256sum`.
 */
export function lockKeys(prefix: string, key: string): LockKeys {
  const base = `${prefix}:{${createHash('sha256').update(key, 'utf8').digest('hex')}}`
  return { lock: `${base}:lock`, fence: `${base}:fence`, channel: `${base}:released` }
}

/** SCAN pattern matching every lock key under `prefix` (glob metacharacters in the prefix escaped). */
export function lockKeyPattern(prefix: string): string {
  return `${prefix.replace(/[*?[\]\\]/g, '\\$&')}:{*}:lock`
}

/** The fence key belonging to a lock key found by SCAN. */
export function fenceKeyOf(lockKey: string): string {
  return `${lockKey.slice(0, -':lock'.length)}:fence`
}
