import type { Clock } from './clock.js'
import type { DriverLease, LockDriver } from './driver.js'
import type { HeldLock } from './held-lock.js'
import type { LockEvent } from './lock-event.js'
import type { Renewer } from './renewer.js'

/** What a handle needs from the Locker that made it. */
export interface HandleHost {
  readonly driver: LockDriver
  readonly clock: Clock
  readonly renewer: Renewer
  /** Whether anyone listens to events; when not, handles skip building them. */
  readonly listening: boolean
  emit(event: LockEvent): void
  /** The handle is done with the backend: free its in-process key slot. */
  finish(handle: HeldLock): void
}

/** What a handle is made from: the user's and the namespaced key, the driver's lease, the TTL asked for. */
export interface HeldLockGrant {
  readonly key: string
  readonly fullKey: string
  readonly lease: DriverLease
  readonly ttlMs: number
  /** False when the Locker has `renew: false`. */
  readonly renews: boolean
}
