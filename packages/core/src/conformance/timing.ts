import type { Capabilities } from '../capabilities.js'

/**
 * Every duration the kit uses, derived from `capabilities.ttlResolutionMs` so that one
 * kit fits Redis (milliseconds) and etcd (seconds). All in ms.
 */
export interface KitTiming {
  /** The backend's TTL step. */
  readonly resolutionMs: number
  /** A lease meant to run out during a check. */
  readonly shortTtlMs: number
  /** A renewed lease kept across three TTLs in the renewal group. */
  readonly renewTtlMs: number
  /** A lease whose renewal interval (a third) is long enough to tell N2/N3 loss from N1 expiry. */
  readonly lossTtlMs: number
  /** A lease that must not run out during any check. */
  readonly longTtlMs: number
  /** Scheduling and backend granularity allowed on top of a promised bound (loaded machines). */
  readonly slackMs: number
  /** L3: how late a timeout or abort may take effect: 100 ms plus a resolution-scaled share. */
  readonly deadlineToleranceMs: number
  /** L4: median handoff latency allowed for drivers that declare `nativeWait`. */
  readonly pushLatencyMs: number
  /** A wait meant to time out in the waiting group. */
  readonly timeoutWaitMs: number
  /** How long a release may take to reach a polling waiter (no `nativeWait`). */
  readonly pollHandoffMs: number
  /** Budget of one backend operation when core waits for a reply (N3). */
  readonly opTimeoutMs: number
}

/** Rounds `ms` up to a whole number of `stepMs`. */
function roundUp(ms: number, stepMs: number): number {
  return Math.ceil(ms / stepMs) * stepMs
}

/** The kit's timing for a driver with these capabilities. */
export function kitTiming(caps: Capabilities): KitTiming {
  const res = caps.ttlResolutionMs
  return Object.freeze({
    resolutionMs: res,
    shortTtlMs: roundUp(Math.max(300, 2 * res), res),
    renewTtlMs: roundUp(Math.max(600, 2 * res), res),
    lossTtlMs: roundUp(Math.max(6_000, 6 * res), res),
    longTtlMs: roundUp(Math.max(30_000, 30 * res), res),
    slackMs: Math.max(300, 2 * res),
    deadlineToleranceMs: 100 + Math.round(res / 10),
    pushLatencyMs: 50,
    timeoutWaitMs: Math.max(250, res),
    pollHandoffMs: Math.max(1_000, 2 * res),
    opTimeoutMs: Math.max(1_000, 2 * res),
  })
}
