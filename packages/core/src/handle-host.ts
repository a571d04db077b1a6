import type { Clock } from './clock.js'
import type { DriverLease, LockDriver, LockMode } from './driver.js'
import type { LockEvent } from './lock-event.js'
import type { RenewalSchedule } from './renewal-target.js'

/** A lock as its Locker tracks it: the key slot it holds, and how close() releases it. */
export interface HostedLock {
  /** The namespaced key whose in-process slot this lock holds; undefined for modes that take none. */
  readonly slotKey: string | undefined
  release(): Promise<void>
}

/** What a handle needs from the Locker that made it. */
export interface HandleHost {
  readonly driver: LockDriver
  readonly clock: Clock
  readonly renewer: RenewalSchedule
  /** Whether anyone listens to events; when not, handles skip building them. */
  readonly listening: boolean
  emit(event: LockEvent): void
  /** The handle is done with the backend: free its in-process key slot. */
  finish(lock: HostedLock): void
}

/** What a handle is made from: the user's and the namespaced key, the driver's lease, the TTL asked for. */
export interface HeldLockGrant {
  readonly key: string
  readonly fullKey: string
  readonly mode: LockMode
  readonly lease: DriverLease
  readonly ttlMs: number
  /** False when the Locker has `renew: false`. */
  readonly renews: boolean
}
