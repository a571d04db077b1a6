import type { DriverLease, RenewResult } from './driver.js'

/** A renewal's result, or the raw error the driver threw. Never rejects. */
export type RenewOutcome = RenewResult | { readonly error: unknown }

/**
 * What the Locker's renewer needs of a held lock, and nothing more: the renewer calls
 * these, the lock never calls into the renewer's internals (one direction of calls).
 */
export interface RenewalTarget {
  /** The driver's lease to renew. */
  readonly lease: DriverLease
  /** TTL each renewal asks for, in ms; leases with the same TTL are renewed in one batch. */
  readonly ttlMs: number
  /** The next monotonic time the renewer must look at this lock; Infinity when final. */
  wakeAtMs(): number
  /** Expires or suspends the lock by the clock alone (S7, N4). */
  checkTime(nowMs: number): void
  /** A renewal may be sent now. */
  isRenewalDue(nowMs: number): boolean
  /** A renewal was sent; `done` settles (never rejects) after `applyRenewal`. */
  renewing(done: Promise<void>): void
  /** Applies the outcome of a renewal sent at `sentAtMs`. */
  applyRenewal(sentAtMs: number, outcome: RenewOutcome): void
}

/** Where a lock registers for renewal: the Locker's renewer, seen from the lock. */
export interface RenewalSchedule {
  /** Starts watching `target`. */
  add(target: RenewalTarget): void
  /** Stops watching `target`. */
  delete(target: RenewalTarget): void
  /** Brings the timer forward if `target` needs attention sooner than planned. */
  reschedule(target: RenewalTarget): void
}
