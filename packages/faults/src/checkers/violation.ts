import type { HistoryEvent } from '../history.js'

/** The checkers, by the invariant names of DESIGN.md section 4 (W1: the fenced store). */
export type CheckerName = 'S1' | 'S3' | 'W1' | 'N1' | 'L1' | 'L3' | 'S4' | 'H1'

export interface Violation {
  checker: CheckerName
  message: string
  /** The events that show it (a history excerpt). */
  excerpt: HistoryEvent[]
  /** How far off, in ms, where the checker measures it (S1: the overlap). */
  byMs?: number
}

/** Options every checker shares. */
export interface CheckOptions {
  /** Slack for clock reads a few microseconds apart and 10 ms sampling (default 20 ms). */
  toleranceMs?: number
}

export const DEFAULT_TOLERANCE_MS = 20

/** Time within [from, to] during which `client`'s event loop did not run (its `lag` events). */
export function lagWithin(
  events: readonly HistoryEvent[],
  client: string,
  from: number,
  to: number,
): number {
  let total = 0
  for (const e of events) {
    if (e.type !== 'lag' || e.client !== client) continue
    const start = Math.max(from, e.from)
    const end = Math.min(to, e.to)
    if (end > start) total += end - start
  }
  return total
}
