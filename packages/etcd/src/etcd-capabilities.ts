import { type Capabilities, defineCapabilities } from '@baton-lock/core/driver'

/**
 * What the etcd driver promises on every deployment: leases in whole seconds (etcd raises a
 * TTL below its minimum, about 1.5x the election timeout), watch-based FIFO waits, and
 * fences from the key's create revision, which Raft makes durable and global.
 */
export const etcdCapabilities: Readonly<Capabilities> = defineCapabilities({
  expiry: 'lease',
  ttlResolutionMs: 1_000,
  nativeWait: true,
  fair: true,
  // the first txn takes the waiter's place in the queue: core skips its waitMs: 0 attempt,
  // which would put, delete and put the key again before the wait (and lose the place)
  queuedWait: true,
  fencing: 'durable',
  lossSignal: true,
  maxKeyBytes: 1024,
  inspect: true,
  // etcd's Go recipe.RWMutex layout beside the Mutex keys (see README "Shared locks")
  sharedLocks: true,
  // permit keys under NAME%sem/, admitted in arrival order (see README "Semaphores")
  semaphores: true,
})
