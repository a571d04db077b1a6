import { formatNumber } from './format.js'
import type { Row } from './results.js'

/** One DESIGN section 10 target checked against one backend's measured rows. */
export interface Verdict {
  readonly target: string
  readonly backend: string
  readonly measured: string
  readonly verdict: 'meets' | 'misses' | 'no data' | 'info'
}

function find(
  rows: readonly Row[],
  scenario: string,
  backend: string,
  metric: string,
): Row | undefined {
  return rows.find(
    (r) =>
      r.contender === 'Baton: Locker.acquire' &&
      r.scenario === scenario &&
      r.backend === backend &&
      r.metric.startsWith(metric) &&
      r.spread.runs > 0,
  )
}

function judge(ok: boolean | undefined): Verdict['verdict'] {
  return ok === undefined ? 'no data' : ok ? 'meets' : 'misses'
}

/** Checks Baton's rows against the targets of DESIGN section 10. */
export function checkTargets(rows: readonly Row[], scaleKeys: number): Verdict[] {
  const backends = [...new Set(rows.filter((r) => r.role === 'baton').map((r) => r.backend))]
  const out: Verdict[] = []
  for (const backend of backends) {
    if (backend === 'memory') {
      out.push(coreOverhead(rows))
      continue
    }
    const cycles = find(rows, 'uncontended', backend, 'cycles/s')
    if (cycles) {
      out.push({
        target: 'uncontended cycles/s >= 0.9x floor',
        backend,
        measured: `${formatNumber(cycles.spread.median)}/s = ${cycles.ratio?.toFixed(2) ?? '?'}x floor`,
        verdict: judge(cycles.ratio === undefined ? undefined : cycles.ratio >= 0.9),
      })
    }
    const idle = find(rows, 'handoff', backend, 'idle per handoff p50')
    const idle99 = find(rows, 'handoff', backend, 'idle per handoff p99')
    if (idle) {
      out.push({
        target: "handoff idle <= 1.5x PostgreSQL's server-side wait",
        backend,
        measured:
          `p50 ${formatNumber(idle.spread.median)} ms = ${idle.ratio?.toFixed(2) ?? '?'}x; ` +
          `p99 ${formatNumber(idle99?.spread.median ?? Number.NaN)} ms = ${idle99?.ratio?.toFixed(2) ?? '?'}x`,
        verdict: judge(idle.ratio === undefined ? undefined : idle.ratio <= 1.5),
      })
    }
    const p99 = find(rows, 'handoff', backend, 'acquire p99')
    if (p99) {
      out.push({
        target: 'handoff acquire p99 < 20 ms',
        backend,
        measured: `${formatNumber(p99.spread.median)} ms (worst run ${formatNumber(p99.spread.max)})`,
        verdict: judge(p99.spread.median < 20),
      })
    }
    const minShare = find(rows, 'handoff', backend, 'share of worker least busy')
    const self = find(rows, 'handoff', backend, 'self re-acquire')
    if (minShare) {
      // Fair would be 25% each for 4 workers; "no starvation" here means every worker got at least 10%.
      out.push({
        target: 'fairness: no waiter starves (every worker >= 10% of grants)',
        backend,
        measured: `lowest share ${formatNumber(minShare.spread.min)}% (median ${formatNumber(minShare.spread.median)}%), self re-acquire ${formatNumber(self?.spread.median ?? Number.NaN)}%`,
        verdict: judge(minShare.spread.min >= 10),
      })
    }
    const trips = find(rows, 'scale', backend, 'renewal round trips per interval')
    const calls = find(rows, 'scale', backend, 'driver renew calls per interval')
    const heap = find(rows, 'scale', backend, 'heap per held lock')
    const lost = find(rows, 'scale', backend, 'locks lost')
    const acquired = find(rows, 'scale', backend, 'acquire ')
    if (acquired) {
      const perInterval = trips ?? calls
      const batched =
        perInterval === undefined ? undefined : perInterval.spread.median <= scaleKeys / 100
      out.push({
        target: `scale: ${scaleKeys.toLocaleString('en-US')} locks held, batched renewal`,
        backend,
        measured:
          `acquired in ${formatNumber(acquired.spread.median)} ms; ${perInterval === trips ? 'server round trips' : 'driver calls'} per interval ${formatNumber(perInterval?.spread.median ?? Number.NaN)}; ` +
          `${formatNumber(heap?.spread.median ?? Number.NaN)} bytes/lock; lost during hold (worst run) ${formatNumber(lost?.spread.max ?? Number.NaN)}`,
        verdict: judge(
          batched === undefined ? undefined : batched && (lost?.spread.max ?? 0) === 0,
        ),
      })
    }
  }
  return out
}

/** Core's cost per cycle: Locker over MemoryDriver minus the bare driver calls (no target of its own). */
function coreOverhead(rows: readonly Row[]): Verdict {
  const cycles = (contender: string) =>
    rows.find(
      (r) => r.scenario === 'core overhead' && r.contender === contender && r.metric === 'cycles/s',
    )
  const locker = cycles('Baton: Locker.acquire')
  const bare = rows.find(
    (r) => r.scenario === 'core overhead' && r.role === 'floor' && r.metric === 'cycles/s',
  )
  if (locker === undefined || bare === undefined) {
    return {
      target: 'core overhead per cycle',
      backend: 'memory',
      measured: '-',
      verdict: 'no data',
    }
  }
  const overheadUs = 1e6 / locker.spread.median - 1e6 / bare.spread.median
  return {
    target: 'core overhead per cycle (Locker vs bare MemoryDriver)',
    backend: 'memory',
    measured: `${formatNumber(overheadUs)} µs per acquire+release (${formatNumber(1e6 / locker.spread.median)} vs ${formatNumber(1e6 / bare.spread.median)} µs)`,
    verdict: 'info',
  }
}

/** The verdicts as a markdown table. */
export function renderVerdicts(verdicts: readonly Verdict[]): string {
  const lines = [
    '| Target (DESIGN section 10) | Backend | Measured (median of runs) | Verdict |',
    '|---|---|---|---|',
  ]
  for (const v of verdicts)
    lines.push(`| ${v.target} | ${v.backend} | ${v.measured} | ${v.verdict} |`)
  return lines.join('\n')
}
