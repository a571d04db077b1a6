/** Parent to scale worker. */
export interface ScaleStart {
  readonly type: 'start'
  readonly backend: string
  readonly url: string
  readonly keys: number
  readonly ttlMs: number
  /** Renewal intervals (ttlMs / 3 each) to hold every lock for. */
  readonly intervals: number
  /** Acquisitions in flight at once. */
  readonly concurrency: number
}

/** Scale worker to parent: the figures of one run (NaN where the backend has no counter). */
export interface ScaleDone {
  readonly type: 'done'
  readonly acquireAllMs: number
  readonly releaseAllMs: number
  readonly bytesPerLock: number
  readonly roundTripsPerInterval: number
  readonly driverCallsPerInterval: number
  readonly leasesRenewedPerInterval: number
  readonly sessions: number
  /** Handles not `held` at the end of the hold (lost or suspended): must be 0. */
  readonly notHeld: number
}

export function isScaleDone(m: unknown): m is ScaleDone {
  return (m as { type?: unknown } | null)?.type === 'done'
}
