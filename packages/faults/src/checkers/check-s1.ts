import type { HistoryEvent } from '../history.js'
import type { CheckOptions, Violation } from './violation.js'
import { type HandleWindow, handleWindows } from './windows.js'

/**
 * S1 exclusive windows: no two handles' validity windows overlap. A window runs from the grant
 * (as the client saw it) to the end of what the handle claimed (see `handleWindows`). Tolerance
 * covers the two clock reads behind each `validUntil`; core's own margin (1 % of the TTL + 2 ms)
 * is far larger, so a real overlap is never inside it.
 */
export function checkS1(events: readonly HistoryEvent[], options: CheckOptions = {}): Violation[] {
  const tol = options.toleranceMs === undefined ? 1 : Math.min(options.toleranceMs, 1)
  const violations: Violation[] = []
  let widest: HandleWindow | undefined
  for (const w of handleWindows(events)) {
    if (w.end <= w.start) continue // never valid when the client got it
    if (widest && w.start < widest.end - tol) {
      violations.push({
        checker: 'S1',
        message: `${w.client}#${w.op} (fence ${w.fence}) granted at ${w.start.toFixed(1)} while ${widest.client}#${widest.op} (fence ${widest.fence}) was valid until ${widest.end.toFixed(1)}: overlap ${(widest.end - w.start).toFixed(1)} ms`,
        byMs: widest.end - w.start,
        excerpt: [...widest.events, ...w.events].sort((a, b) => a.t - b.t).slice(0, 20),
      })
    }
    if (!widest || w.end > widest.end) widest = w
  }
  return violations
}
