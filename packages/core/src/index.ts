// @baton-lock/core: what applications use. Driver authors import @baton-lock/core/driver.
export type { Capabilities } from './capabilities.js'
export type { Clock, TimerHandle } from './clock.js'
export { systemClock } from './clock.js'
export type {
  AcquireRequest,
  DriverLease,
  LockDriver,
  LockInfo,
  LockMode,
  RenewResult,
} from './driver.js'
export type { LeaderInfo } from './election.js'
export { Election } from './election.js'
export type { LockErrorByCode, LockErrorCode, LockErrorOptions, LockLostReason } from './errors.js'
export {
  isLockError,
  LockAbortedError,
  LockBackendError,
  LockClosedError,
  LockDeadlockError,
  LockError,
  LockLimitMismatchError,
  LockLostError,
  LockTimeoutError,
  LockUnsupportedError,
} from './errors.js'
export type { LockEvent, LockEventType } from './lock-event.js'
export type { LockHandle, LockState } from './lock-handle.js'
export type { LockSet } from './lock-set.js'
export { Locker } from './locker.js'
export type {
  AcquireOptions,
  CampaignOptions,
  ElectionOptions,
  LeadOptions,
  LockerOptions,
  SemaphoreAcquireOptions,
  SemaphoreOptions,
} from './locker-options.js'
export type { MemoryDriverOptions } from './memory-driver.js'
export { MemoryDriver } from './memory-driver.js'
export { redact } from './redact.js'
export { Semaphore } from './semaphore.js'
