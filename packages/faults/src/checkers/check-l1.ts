import type { HistoryEvent, NemesisEvent } from '../history.js'
import type { Violation } from './violation.js'

export interface LiveBound {
  /** `takeover`: from the fault on a holder to a grant to another client; `recovery`: from heal to the next grant. */
  measure: 'takeover' | 'recovery'
  boundMs: number
}

export interface LiveMeasurement {
  nemesis: string
  measure: 'takeover' | 'recovery'
  ms: number | null
  boundMs: number
}

/**
 * L1: after a holder dies or goes silent, another client is granted the key within the bound
 * the capabilities promise; after a server or network fault heals, clients get grants again
 * within the stated bound. `bounds` maps a nemesis name to what it promises (the harness takes
 * it from the backend's capabilities and TTL).
 */
export function checkL1(
  events: readonly HistoryEvent[],
  bounds: Readonly<Record<string, LiveBound>>,
): { violations: Violation[]; measurements: LiveMeasurement[] } {
  const grants = events.filter((e) => e.type === 'grant').sort((a, b) => a.t - b.t)
  const violations: Violation[] = []
  const measurements: LiveMeasurement[] = []
  for (const n of events) {
    if (n.type !== 'nemesis') continue
    const bound = bounds[n.name]
    if (!bound) continue
    if (bound.measure === 'takeover' && n.phase !== 'start') continue
    if (bound.measure === 'recovery' && n.phase !== 'heal') continue
    const next = grants.find(
      (g) => g.t > n.t && (bound.measure === 'recovery' || g.client !== n.holder?.client),
    )
    const ms = next ? next.t - n.t : null
    measurements.push({ nemesis: n.name, measure: bound.measure, ms, boundMs: bound.boundMs })
    if (ms === null || ms > bound.boundMs) violations.push(late(n, bound, ms, next))
  }
  return { violations, measurements }
}

function late(
  n: NemesisEvent,
  bound: LiveBound,
  ms: number | null,
  next: HistoryEvent | undefined,
): Violation {
  const what =
    bound.measure === 'takeover' ? `takeover after ${n.name}` : `recovery after ${n.name} healed`
  return {
    checker: 'L1',
    message:
      ms === null
        ? `${what}: no grant at all afterwards (bound ${bound.boundMs} ms)`
        : `${what}: next grant after ${ms.toFixed(0)} ms, bound ${bound.boundMs} ms`,
    excerpt: next ? [n, next] : [n],
  }
}
