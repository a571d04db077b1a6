import type { HistoryEvent } from '../history.js'
import { lagWithin, type Violation } from './violation.js'

/** DESIGN L3: waits and aborts are honoured within this, even when the backend is unreachable. */
export const L3_BOUND_MS = 100

/**
 * L3: every acquire ends (grant, timeout, abort or error) no later than 100 ms after its
 * `waitMs` ran out, and an aborted one no later than 100 ms after the abort; an acquire that
 * never ends while its client lives on fails too. Time the client's event loop did not run
 * (its `lag` events) is added: a stopped process honours nothing.
 */
export function checkL3(events: readonly HistoryEvent[]): Violation[] {
  const outcomes = new Map<string, HistoryEvent>()
  const lastSeen = new Map<string, number>()
  for (const e of events) {
    if ('client' in e) lastSeen.set(e.client, Math.max(lastSeen.get(e.client) ?? 0, e.t))
    if (!('op' in e)) continue
    const id = `${e.client}#${e.op}`
    if (
      (e.type === 'grant' ||
        e.type === 'timeout' ||
        e.type === 'abort' ||
        e.type === 'acquire-error') &&
      !outcomes.has(id)
    )
      outcomes.set(id, e)
  }
  const violations: Violation[] = []
  for (const a of events) {
    if (a.type !== 'acquire') continue
    const outcome = outcomes.get(`${a.client}#${a.op}`)
    let deadline = a.t + a.waitMs
    if (outcome?.type === 'abort') deadline = Math.min(deadline, outcome.abortedAt)
    const endedAt = outcome?.t ?? lastSeen.get(a.client) ?? a.t
    const allowed = deadline + L3_BOUND_MS + lagWithin(events, a.client, deadline, endedAt)
    if (endedAt <= allowed) continue
    violations.push({
      checker: 'L3',
      message: outcome
        ? `${a.client}#${a.op}: ${outcome.type} ${(endedAt - deadline).toFixed(0)} ms after its ${outcome.type === 'abort' ? 'abort' : `waitMs (${a.waitMs} ms)`} ran out`
        : `${a.client}#${a.op}: acquire (waitMs ${a.waitMs}) still pending ${(endedAt - deadline).toFixed(0)} ms after its deadline`,
      excerpt: outcome ? [a, outcome] : [a],
    })
  }
  return violations
}
