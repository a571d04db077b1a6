import type { HistoryEvent } from '../history.js'
import { type CheckOptions, DEFAULT_TOLERANCE_MS, lagWithin, type Violation } from './violation.js'
import { handleWindows } from './windows.js'

/**
 * N1: a handle's `signal` aborts no later than its validity ends, that is by its latest
 * `validUntil` and by the first time the client saw `isValid()` false (core aborts the signal
 * inside that very check). A handle released while still valid owes nothing, nor does one
 * released, unseen as invalid, within the time its process was stopped; one whose client died
 * while it was valid cannot be judged. Time the client's event loop did not run (SIGSTOP,
 * starvation: its `lag` events) is added to the bound: a stopped process fires nothing.
 */
export function checkN1(events: readonly HistoryEvent[], options: CheckOptions = {}): Violation[] {
  const tol = options.toleranceMs ?? DEFAULT_TOLERANCE_MS
  const lastSeen = new Map<string, number>()
  for (const e of events) if ('client' in e) lastSeen.set(e.client, e.t)
  const violations: Violation[] = []
  for (const w of handleWindows(events)) {
    const deadline = Math.min(w.validUntil, w.invalid?.t ?? Number.POSITIVE_INFINITY)
    const sawInvalid = w.invalid !== undefined && (!w.release || w.invalid.t <= w.release.t)
    if (w.release && w.release.t <= deadline + tol && !sawInvalid) continue
    const until = w.lost?.t ?? w.release?.t ?? lastSeen.get(w.client) ?? deadline
    if (!w.lost && !w.release && until <= deadline + tol) continue // died while valid
    const allowed = deadline + tol + lagWithin(events, w.client, deadline - tol, until + tol)
    if (w.lost && w.lost.t <= allowed) continue
    // Stopped past validUntil, then released (before any timer ran) within the excused time,
    // without ever seeing the handle invalid: nothing could have fired, nothing was used late.
    if (!w.lost && !sawInvalid && w.release && w.release.t <= allowed) continue
    violations.push({
      checker: 'N1',
      message: w.lost
        ? `${w.client}#${w.op} (fence ${w.fence}): signal aborted at ${w.lost.t.toFixed(1)}, ${(w.lost.t - deadline).toFixed(1)} ms after its validity ended at ${deadline.toFixed(1)}`
        : `${w.client}#${w.op} (fence ${w.fence}): validity ended at ${deadline.toFixed(1)}, signal had not aborted by ${until.toFixed(1)}`,
      excerpt: w.events.slice(0, 20),
    })
  }
  return violations
}
