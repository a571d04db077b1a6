import { defineCapabilities } from '@baton-lock/core/driver'

/**
 * What the SQLite driver promises, the same for every file: leases with an expiry time in
 * the row, waiters queued in the file and granted in arrival order (`fair`, in every mode),
 * woken by a push from the releasing process (`nativeWait`: a local socket per waiting
 * driver; polling stays as the backstop where a process cannot reach another's socket),
 * fences in the file (`durable`), shared locks and semaphores in tables of their own with
 * the same queue and fences, and no loss signal (nothing tells the driver a row was taken
 * over except a failed renew).
 */
export const SQLITE_CAPABILITIES = defineCapabilities({
  expiry: 'lease',
  ttlResolutionMs: 1,
  nativeWait: true,
  fair: true,
  fencing: 'durable',
  lossSignal: false,
  inspect: true,
  maxKeyBytes: 1024,
  sharedLocks: true,
  semaphores: true,
})
