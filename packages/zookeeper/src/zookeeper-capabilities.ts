import { defineCapabilities } from '@baton-lock/core/driver'

/**
 * What the Curator lock recipe on ZooKeeper can promise (README "Capabilities").
 * `ttlResolutionMs` is the smallest TTL the driver accepts, the server's lowest session
 * timeout (`minSessionTimeout`, by default 2 x tickTime = 4 s): below it the server would
 * keep a silent holder's session, and so its lock, longer than `ttlMs`.
 */
export function zookeeperCapabilities(ttlResolutionMs: number) {
  return defineCapabilities({
    expiry: 'session',
    ttlResolutionMs,
    nativeWait: true,
    fair: true,
    // the first create takes the waiter's place in the queue: core skips its waitMs: 0
    // attempt, which would create, list and delete a node before the waiting create
    queuedWait: true,
    // czxid: the transaction id, kept in the snapshot and log and never reused; its high
    // 32 bits are the election epoch, so it grows across restarts and leader changes
    fencing: 'durable',
    lossSignal: true,
    maxKeyBytes: 1024,
    inspect: true,
    // Curator's InterProcessReadWriteLock read nodes in the mutex's queue: readers hold
    // together until a write node sorts before them, so a waiting writer is served in
    // arrival order (R2); czxid fences across both modes (F1)
    sharedLocks: true,
    // Curator's InterProcessSemaphoreV2 under <root>/%semaphores/<key>
    semaphores: true,
  })
}
