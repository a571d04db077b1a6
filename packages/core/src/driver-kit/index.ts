// @baton-lock/core/driver: everything a driver author needs, and nothing an application does.
export { toBackendError } from '../backend-error.js'
export type { Capabilities } from '../capabilities.js'
export { defineCapabilities } from '../capabilities.js'
export type {
  AcquireRequest,
  DriverLease,
  LockDriver,
  LockInfo,
  LockMode,
  RenewResult,
} from '../driver.js'
export { LockDeadlockError, LockLimitMismatchError } from '../errors.js'
export type { StoreAcquire } from '../memory-store.js'
export { MemoryStore } from '../memory-store.js'
export { redact } from '../redact.js'
export type { BackoffOptions } from '../sleep.js'
export { Backoff, sleep } from '../sleep.js'
export { ABORTED, untilAborted } from '../until-aborted.js'
export type { DriverFromUrl } from './driver-from-url.js'
export { DriverLifecycle } from './driver-lifecycle.js'
export { driverRequest, uniqueKey } from './driver-request.js'
export type { BookEntry, Grant } from './lease-book.js'
export { LeaseBook } from './lease-book.js'
export { LinkedAbort } from './linked-abort.js'
export type { PollAttempt, PollOptions } from './poll-for-grant.js'
export { pollForGrant } from './poll-for-grant.js'
export { RecentContention } from './recent-contention.js'
