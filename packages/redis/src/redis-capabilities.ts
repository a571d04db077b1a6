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
    // Waiters queue in Redis (list + per-waiter expiry); a release hands the lock to the
    // head of the queue on the server, so grants go in arrival order across processes.
    fair: true,
    // A waiting acquire joins that queue with its first script: core makes one waiting call
    // (no `waitMs: 0` attempt first), and the driver reports contention via onContended.
    queuedWait: true,
    fencing,
    lossSignal: true,
    // Keys are hashed into the hash tag, so their length costs only the fence hash's `key` field.
    maxKeyBytes: 4096,
    inspect: true,
    // Readers join the same fair queue (consecutive readers at its head are admitted
    // together) and count the same fence up; semaphores have a layout of their own.
    sharedLocks: true,
    semaphores: true,
  })
}
