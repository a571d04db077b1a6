import { lockKeys } from './redis-key.js'

/** The Redis names one lock uses in the quorum driver. */
export interface QuorumKeys {
  /** String key holding the owner id, with the lease as its PX expiry. */
  readonly lock: string
  /** Hash `{ n: <last fence>, key: <namespaced key> }`; never expires. */
  readonly fence: string
  /** Channel a release publishes on (wakes waiters of Baton drivers). */
  readonly channel: string
}

/**
 * How Baton names a lock in Redis.
 * - `baton` (default): `<prefix>:{sha256(key)}:lock|fence`, channel `...:released`: any key,
 *   one cluster slot per lock.
 * - `plain`: the lock key IS the lock's name, as `redis.Redis().lock(name)` (redis-py) and
 *   most "SET NX PX + token" locks use it; the fence sits in a side key
 *   `<prefix>:fence:{<name>}` and the channel is `<prefix>:released:{<name>}` (same slot as
 *   `<name>` when the name has no braces). Other clients ignore both: their releases wake
 *   nobody (Baton waiters poll), and their grants do not count the fence up.
 */
export type KeyLayout = 'baton' | 'plain'

/** The names of `key` in `layout`. */
export function quorumKeys(layout: KeyLayout, prefix: string, key: string): QuorumKeys {
  if (layout === 'plain') {
    return {
      lock: key,
      fence: `${prefix}:fence:{${key}}`,
      channel: `${prefix}:released:{${key}}`,
    }
  }
  const { lock, fence, channel } = lockKeys(prefix, key)
  return { lock, fence, channel }
}

/** SCAN pattern of the fence keys of `layout` (each names its lock in its `key` field). */
export function fenceKeyPattern(layout: KeyLayout, prefix: string): string {
  const escaped = prefix.replace(/[*?[\]\\]/g, '\\$&')
  return layout === 'plain' ? `${escaped}:fence:{*}` : `${escaped}:{*}:fence`
}

/** Checks a `layout` option; throws TypeError for anything else. */
export function checkLayout(layout: unknown): KeyLayout {
  if (layout === undefined) return 'baton'
  if (layout === 'baton' || layout === 'plain') return layout
  throw new TypeError(`layout must be 'baton' or 'plain', got ${String(layout)}`)
}
