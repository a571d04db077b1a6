export { toBackendError } from './backend-error.js'
export type { Capabilities } from './capabilities.js'
export { defineCapabilities } from './capabilities.js'
export type { Clock, TimerHandle } from './clock.js'
export { systemClock } from './clock.js'
export type { AcquireRequest, DriverLease, LockDriver, LockInfo, RenewResult } from './driver.js'
export type { LockErrorByCode, LockErrorCode, LockErrorOptions, LockLostReason } from './errors.js'
export {
  isLockError,
  LockAbortedError,
  LockBackendError,
  LockClosedError,
  LockError,
  LockLostError,
  LockTimeoutError,
  LockUnsupportedError,
} from './errors.js'
export type { LockEvent, LockEventType } from './lock-event.js'
export type { LockHandle, LockState } from './lock-handle.js'
export { Locker } from './locker.js'
export type { AcquireOptions, LockerOptions } from './locker-options.js'
export type { MemoryDriverOptions } from './memory-driver.js'
export { MemoryDriver } from './memory-driver.js'
export type { StoreAcquire } from './memory-store.js'
export { MemoryStore } from './memory-store.js'
export { redact } from './redact.js'
export type { BackoffOptions } from './sleep.js'
export { Backoff, sleep } from './sleep.js'
export { ABORTED, untilAborted } from './until-aborted.js'
