/** Messages between the handoff parent and its worker processes (advanced IPC serialisation). */

/** Parent to worker: what to contend for. Times are ms since `originNs` on the shared clock. */
export interface HandoffStart {
  readonly type: 'start'
  readonly backend: string
  readonly contender: string
  readonly url: string
  readonly key: string
  readonly originNs: bigint
  readonly holdMs: number
  readonly pauseMs: number
}

/** Worker to parent: connected; `nowNs` is read just before sending, for the shared-clock check. */
export interface HandoffReady {
  readonly type: 'ready'
  readonly nowNs: bigint
}

/** Parent to worker: contend from `startAtMs` until `endAtMs` (shared clock, since origin). */
export interface HandoffGo {
  readonly type: 'go'
  readonly startAtMs: number
  readonly endAtMs: number
}

/** One acquisition by one worker, in ms since origin. */
export interface HandoffCycle {
  readonly requestedAtMs: number
  readonly acquiredAtMs: number
  /** Read just before the release is sent. */
  readonly releasingAtMs: number
  readonly releasedAtMs: number
}

/** Worker to parent: everything it did. */
export interface HandoffDone {
  readonly type: 'done'
  readonly cycles: readonly HandoffCycle[]
  /** Waits that ended without the lock. */
  readonly timeouts: number
  /**
   * CPU time (user + system, µs) of the worker's process over its whole loop, warm-up
   * included: acquires, holds, releases and whatever the client runs meanwhile (renewal
   * timers, heartbeats). Absent where loops share a process.
   */
  readonly cpuUs?: number
}

export function isReady(m: unknown): m is HandoffReady {
  return (m as { type?: unknown } | null)?.type === 'ready'
}

export function isDone(m: unknown): m is HandoffDone {
  return (m as { type?: unknown } | null)?.type === 'done'
}

/** Worker to parent, after `done`: its client is closed (`error` when closing failed). */
export interface HandoffClosed {
  readonly type: 'closed'
  readonly error?: string
}

export function isClosed(m: unknown): m is HandoffClosed {
  return (m as { type?: unknown } | null)?.type === 'closed'
}
