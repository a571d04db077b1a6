/** Guaranteed validity of a lease confirmed by a request sent at `sentAtMs` (DESIGN section 4). */
export function validUntilOf(sentAtMs: number, ttlMs: number): number {
  return sentAtMs + ttlMs * (1 - 0.01) - 2
}

/**
 * The times at which a held lease needs attention, all on the monotonic clock. They move
 * only when a reply confirms ownership (or a renewal fails and is retried).
 */
export class LeaseTiming {
  /** End of guaranteed validity: the handle is lost from here on (N1, S7). */
  validUntilMs: number
  /** Renewal due: a third of the TTL after the confirming request was sent. */
  renewAtMs = 0
  /** A batch may renew it from here on, so that nearby leases share one round trip. */
  earliestRenewAtMs = 0
  /** A confirmation is overdue from here on: the handle is `suspended` (N4). */
  suspendAtMs = 0

  constructor(sentAtMs: number, grantedTtlMs: number) {
    this.validUntilMs = validUntilOf(sentAtMs, grantedTtlMs)
    this.confirm(sentAtMs, grantedTtlMs)
  }

  /** A reply confirmed ownership for `grantedTtlMs` from `sentAtMs`. */
  confirm(sentAtMs: number, grantedTtlMs: number): void {
    this.validUntilMs = validUntilOf(sentAtMs, grantedTtlMs)
    this.renewAtMs = sentAtMs + grantedTtlMs / 3
    this.earliestRenewAtMs = sentAtMs + grantedTtlMs / 6
    this.suspendAtMs = sentAtMs + grantedTtlMs / 2
  }

  /** A renewal failed at `nowMs`: try again after min(ttlMs / 6, 1 s); validity does not move. */
  retry(nowMs: number, ttlMs: number): void {
    this.renewAtMs = nowMs + Math.max(1, Math.min(ttlMs / 6, 1000))
    this.earliestRenewAtMs = this.renewAtMs
  }

  /** The next time a timer must look at the lease. */
  wakeAtMs(renews: boolean, renewalInFlight: boolean, held: boolean): number {
    let atMs = this.validUntilMs
    if (renews) {
      if (!renewalInFlight) atMs = Math.min(atMs, this.renewAtMs)
      if (held) atMs = Math.min(atMs, this.suspendAtMs)
    }
    return atMs
  }
}
