import { hrtime } from 'node:process'

/*
 * The handoff scenario compares timestamps taken in different processes, so it needs one
 * clock that every process on the host reads alike. `process.hrtime.bigint()` is libuv's
 * uv_hrtime(), which on Linux reads clock_gettime(CLOCK_MONOTONIC): a system-wide clock
 * (time since boot), identical in every process, never stepped by NTP. `performance.now()`
 * is relative to each process's own start, and `performance.timeOrigin` is read from the
 * wall clock at start-up, so sums of the two can disagree between processes by the wall
 * clock's step and read skew. The parent checks the shared-clock assumption at start-up with
 * a ping-pong (see `checkSharedClock`) and the report says whether it held.
 */

/** Nanoseconds on the host-wide monotonic clock. */
export function monotonicNs(): bigint {
  return hrtime.bigint()
}

/** Milliseconds elapsed since `originNs` on the host-wide monotonic clock (float). */
export function msSince(originNs: bigint): number {
  return Number(hrtime.bigint() - originNs) / 1e6
}

/**
 * Verifies that a timestamp taken in another process (`remoteNs`) lies between the local
 * send and receive times of the message exchange that carried it; returns the slack in ms
 * (how far outside the window it fell, 0 when inside).
 */
export function clockSlackMs(sentNs: bigint, remoteNs: bigint, receivedNs: bigint): number {
  if (remoteNs < sentNs) return Number(sentNs - remoteNs) / 1e6
  if (remoteNs > receivedNs) return Number(remoteNs - receivedNs) / 1e6
  return 0
}
