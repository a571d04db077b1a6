import type { Capabilities } from '@baton-lock/core'
import { defineCapabilities } from '@baton-lock/core/driver'

/**
 * What the Redis driver promises. Only `fencing` depends on the server: `durable` when the
 * append-only file is on (the fence counters survive a restart), else `volatile`.
 */
export function redisCapabilities(fencing: 'durable' | 'volatile'): Readonly<Capabilities> {
  return defineCapabilities({
    expiry: 'lease',
    ttlResolutionMs: 1,
    nativeWait: true,
    // SET NX has no queue: after a release, whichever process's retry reaches the server
    // first wins. Only one driver's own waiters are served in arrival order.
    fair: false,
    fencing,
    lossSignal: true,
    // Keys are hashed into the hash tag, so their length costs only the fence hash's `key` field.
    maxKeyBytes: 4096,
    inspect: true,
    sharedLocks: false,
  })
}
