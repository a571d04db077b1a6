import type { HoldRecord } from './demo-protocol.js'

/** What the demo measured and checked. */
export interface DemoSummary {
  readonly acquisitions: number
  readonly expected: number
  readonly elapsedMs: number
  readonly perSecond: number
  /** Gap between one holder starting its release and the next holder's acquire returning, ms. */
  readonly handoffP50Ms: number
  readonly handoffP99Ms: number
  readonly firstFence: string
  readonly lastFence: string
  /** Fences, in the order the holds happened, each greater than the one before. */
  readonly fencesIncreasing: boolean
  /** Holds that began before the previous hold started its release (must be 0). */
  readonly overlaps: number
  readonly staleWrites: number
  readonly finalCount: number
  readonly lostUpdates: number
}

/** Orders every worker's holds by acquire time and derives the summary. */
export function summarize(
  records: readonly HoldRecord[],
  expected: number,
  finalCount: number,
  staleWrites: number,
): DemoSummary {
  const holds = [...records].sort((a, b) => a.acquiredAtMs - b.acquiredAtMs)
  const gaps: number[] = []
  let overlaps = 0
  let fencesIncreasing = true
  for (let i = 1; i < holds.length; i++) {
    const prev = holds[i - 1] as HoldRecord
    const hold = holds[i] as HoldRecord
    const gapMs = hold.acquiredAtMs - prev.releasingAtMs
    if (gapMs < 0) overlaps++
    gaps.push(Math.max(0, gapMs))
    if (BigInt(hold.fence) <= BigInt(prev.fence)) fencesIncreasing = false
  }
  const first = holds[0]
  const last = holds.at(-1)
  const elapsedMs = first && last ? last.releasingAtMs - first.acquiredAtMs : 0
  return {
    acquisitions: holds.length,
    expected,
    elapsedMs,
    perSecond: elapsedMs > 0 ? (holds.length * 1000) / elapsedMs : 0,
    handoffP50Ms: percentile(gaps, 0.5),
    handoffP99Ms: percentile(gaps, 0.99),
    firstFence: first?.fence ?? '-',
    lastFence: last?.fence ?? '-',
    fencesIncreasing,
    overlaps,
    staleWrites,
    finalCount,
    lostUpdates: Math.max(0, expected - finalCount),
  }
}

/** True when every check passed. */
export function passed(s: DemoSummary): boolean {
  return (
    s.acquisitions === s.expected &&
    s.fencesIncreasing &&
    s.overlaps === 0 &&
    s.staleWrites === 0 &&
    s.finalCount === s.expected &&
    s.lostUpdates === 0
  )
}

/** The closing summary, one fact per line. */
export function formatSummary(s: DemoSummary): string[] {
  const mark = (ok: boolean) => (ok ? 'ok' : 'FAILED')
  return [
    `  acquisitions       ${s.acquisitions} in ${(s.elapsedMs / 1000).toFixed(2)} s (${Math.round(s.perSecond)}/s)`,
    `  handoff latency    p50 ${s.handoffP50Ms.toFixed(2)} ms, p99 ${s.handoffP99Ms.toFixed(2)} ms (release to next acquire)`,
    `  fences             ${s.firstFence} .. ${s.lastFence}, strictly increasing: ${s.fencesIncreasing ? 'yes' : 'NO'}`,
    `  overlapping holds  ${s.overlaps}  ${mark(s.overlaps === 0)}`,
    `  stale writes       ${s.staleWrites} rejected by the fenced counter  ${mark(s.staleWrites === 0)}`,
    `  final counter      ${s.finalCount} (expected ${s.expected})  ${mark(s.finalCount === s.expected)}`,
    `  lost updates: ${s.lostUpdates}`,
  ]
}

/** The q-quantile (nearest rank) of `values`, 0 when empty. */
export function percentile(values: readonly number[], q: number): number {
  if (values.length === 0) return 0
  const sorted = [...values].sort((a, b) => a - b)
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))
  return sorted[rank] as number
}
