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
  /** Handles `lost` at the end of the hold: must be 0. */
  readonly lost: number
  /** Longest event-loop stall during acquisition and hold, in ms (delays renewal timers). */
  readonly maxLoopDelayMs: number
  /** Lost handles by `LockLostError.reason` (expired, server, driver). */
  readonly lostBy: Readonly<Record<string, number>>
  /** Handles `suspended` (a renewal confirmation overdue) at the end of the hold. */
  readonly suspended: number
}

export function isScaleDone(m: unknown): m is ScaleDone {
  return (m as { type?: unknown } | null)?.type === 'done'
}
