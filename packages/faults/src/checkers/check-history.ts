import type { HistoryEvent, StoreEntry } from '../history.js'
import { checkL1, type LiveBound, type LiveMeasurement } from './check-l1.js'
import { checkL3 } from './check-l3.js'
import { checkN1 } from './check-n1.js'
import { checkH1, checkS4 } from './check-probes.js'
import { checkS1 } from './check-s1.js'
import { checkS3 } from './check-s3.js'
import { checkStore, type StoreSummary } from './check-store.js'
import type { CheckerName, Violation } from './violation.js'

export interface HistoryVerdict {
  violations: Violation[]
  /** Violation count per checker (every checker listed, 0 included). */
  counts: Record<CheckerName, number>
  store: StoreSummary
  live: LiveMeasurement[]
  grants: number
}

export const CHECKERS: readonly CheckerName[] = ['S1', 'S3', 'W1', 'N1', 'L1', 'L3', 'S4', 'H1']

/** Runs every checker over one scenario's merged history and its store log. */
export function checkHistory(
  events: readonly HistoryEvent[],
  store: readonly StoreEntry[],
  bounds: Readonly<Record<string, LiveBound>>,
): HistoryVerdict {
  const sorted = [...events].sort((a, b) => a.t - b.t)
  const storeResult = checkStore(sorted, store)
  const l1 = checkL1(sorted, bounds)
  const violations = [
    ...checkS1(sorted),
    ...checkS3(sorted),
    ...storeResult.violations,
    ...checkN1(sorted),
    ...l1.violations,
    ...checkL3(sorted),
    ...checkS4(sorted),
    ...checkH1(sorted),
  ]
  const counts = Object.fromEntries(CHECKERS.map((c) => [c, 0])) as Record<CheckerName, number>
  for (const v of violations) counts[v.checker]++
  return {
    violations,
    counts,
    store: storeResult.summary,
    live: l1.measurements,
    grants: sorted.filter((e) => e.type === 'grant').length,
  }
}
