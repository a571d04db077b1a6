import { quantile } from '../stats.js'
import type { HandoffCycle } from './handoff-protocol.js'

/** What one handoff run showed, all times in ms. */
export interface HandoffFigures {
  readonly cyclesPerS: number
  /** Lock idle between a release and the next grant, over handoffs where someone was already waiting. */
  readonly idleP50Ms: number
  readonly idleP99Ms: number
  readonly acquireP50Ms: number
  readonly acquireP99Ms: number
  readonly acquireMaxMs: number
  /** Share (%) of consecutive acquisitions by the same worker. */
  readonly selfReacquirePct: number
  /** Each worker's share (%) of the acquisitions, largest first; a 0 is a starved worker. */
  readonly sharesPct: readonly number[]
  /** Grants that came before the previous holder started releasing: must be 0 (exclusion). */
  readonly overlaps: number
  readonly timeouts: number
  /**
   * Share (%) of contested grants (another worker was waiting too) that went to the worker
   * that had asked first, by the workers' request timestamps; NaN without a contested grant.
   */
  readonly inOrderPct: number
  /** Contested grants the in-order share is taken over. */
  readonly contested: number
  /** Every acquire latency (ms) and idle time (ms) of the window, for the charts. */
  readonly acquireMs: readonly number[]
  readonly idleMs: readonly number[]
  /** Grants in the window. */
  readonly grants: number
  /** Grants of the whole round, the window's edges included. */
  readonly allGrants: number
  /**
   * CPU (µs) all workers spent over the whole round (so over `allGrants`); NaN when a
   * worker did not measure its own (loops sharing one process).
   */
  readonly cpuUs: number
}

type Tagged = HandoffCycle & { readonly worker: number }

/**
 * Folds the cycles of every worker (timestamps on one shared clock) into the handoff
 * figures, counting only acquisitions granted inside [startAtMs, endAtMs).
 *
 * Idle time of a handoff = next grant seen by its worker - previous holder's timestamp
 * just before sending its release. It therefore includes the release's trip to the server,
 * the wake-up of the waiter (push, server-side wait or next poll) and the grant's reply:
 * the time the protected resource sits unused although someone wants it. Handoffs the next
 * worker had not asked for yet (its request came after that release began) are left out:
 * that idle time is the workload's, not the lock's.
 */
export function analyseHandoff(
  perWorker: ReadonlyArray<{
    readonly cycles: readonly HandoffCycle[]
    readonly timeouts: number
    readonly cpuUs?: number
  }>,
  startAtMs: number,
  endAtMs: number,
): HandoffFigures {
  const all: Tagged[] = perWorker
    .flatMap((w, worker) => w.cycles.map((c) => ({ ...c, worker })))
    .filter((c) => c.acquiredAtMs >= startAtMs && c.acquiredAtMs < endAtMs)
    .sort((a, b) => a.acquiredAtMs - b.acquiredAtMs)
  const idle: number[] = []
  let self = 0
  let overlaps = 0
  for (let i = 1; i < all.length; i++) {
    const prev = all[i - 1] as Tagged
    const next = all[i] as Tagged
    if (next.acquiredAtMs < prev.releasingAtMs) overlaps += 1
    if (next.worker === prev.worker) self += 1
    if (next.requestedAtMs < prev.releasingAtMs) idle.push(next.acquiredAtMs - prev.releasingAtMs)
  }
  const acquire = all.map((c) => c.acquiredAtMs - c.requestedAtMs)
  const { inOrder, contested } = arrivalOrder(perWorker, all)
  const counts = perWorker.map((_, worker) => all.filter((c) => c.worker === worker).length)
  const share = (n: number) => (all.length === 0 ? 0 : (100 * n) / all.length)
  return {
    cyclesPerS: all.length / ((endAtMs - startAtMs) / 1000),
    idleP50Ms: quantile(idle, 0.5),
    idleP99Ms: quantile(idle, 0.99),
    acquireP50Ms: quantile(acquire, 0.5),
    acquireP99Ms: quantile(acquire, 0.99),
    acquireMaxMs: acquire.length === 0 ? Number.NaN : Math.max(...acquire),
    selfReacquirePct: all.length < 2 ? Number.NaN : (100 * self) / (all.length - 1),
    sharesPct: counts.map(share).sort((a, b) => b - a),
    overlaps,
    timeouts: perWorker.reduce((sum, w) => sum + w.timeouts, 0),
    inOrderPct: contested === 0 ? Number.NaN : (100 * inOrder) / contested,
    contested,
    acquireMs: acquire,
    idleMs: idle,
    grants: all.length,
    allGrants: perWorker.reduce((sum, w) => sum + w.cycles.length, 0),
    cpuUs: perWorker.reduce((sum, w) => sum + (w.cpuUs ?? Number.NaN), 0),
  }
}

/**
 * For each grant of the window, the request every other worker had pending at that moment
 * (asked before the grant, granted after it): a grant with at least one such rival is
 * contested, and in order when its own request came before every rival's. Each worker has
 * one request outstanding at a time, so one pointer per worker walks its cycles.
 */
function arrivalOrder(
  perWorker: ReadonlyArray<{ readonly cycles: readonly HandoffCycle[] }>,
  grants: readonly Tagged[],
): { inOrder: number; contested: number } {
  const byWorker = perWorker.map((w) =>
    [...w.cycles].sort((a, b) => a.acquiredAtMs - b.acquiredAtMs),
  )
  const next = byWorker.map(() => 0)
  let inOrder = 0
  let contested = 0
  for (const g of grants) {
    let earliestRival = Number.POSITIVE_INFINITY
    byWorker.forEach((cycles, w) => {
      if (w === g.worker) return
      let i = next[w] as number
      while (i < cycles.length && (cycles[i] as HandoffCycle).acquiredAtMs <= g.acquiredAtMs) i++
      next[w] = i
      const pending = cycles[i]
      if (pending !== undefined && pending.requestedAtMs < g.acquiredAtMs)
        earliestRival = Math.min(earliestRival, pending.requestedAtMs)
    })
    if (earliestRival === Number.POSITIVE_INFINITY) continue
    contested += 1
    if (g.requestedAtMs <= earliestRival) inOrder += 1
  }
  return { inOrder, contested }
}

/**
 * The figures of one contender measured in several rounds (see `HandoffOptions.passes`),
 * as if from one window: percentiles over the pooled latencies, counts summed, rates and
 * shares averaged (weighted by the grants or contested grants they are taken over).
 */
export function mergeHandoff(rounds: readonly HandoffFigures[]): HandoffFigures {
  const [first] = rounds
  if (first === undefined) throw new Error('no handoff round to merge')
  if (rounds.length === 1) return first
  const sum = (f: (r: HandoffFigures) => number) => rounds.reduce((s, r) => s + f(r), 0)
  const weighted = (f: (r: HandoffFigures) => number, w: (r: HandoffFigures) => number) => {
    const counted = rounds.filter((r) => Number.isFinite(f(r)) && w(r) > 0)
    const total = counted.reduce((s, r) => s + w(r), 0)
    return total === 0 ? Number.NaN : counted.reduce((s, r) => s + f(r) * w(r), 0) / total
  }
  const idle = rounds.flatMap((r) => r.idleMs)
  const acquire = rounds.flatMap((r) => r.acquireMs)
  const ranks = Math.max(...rounds.map((r) => r.sharesPct.length))
  return {
    cyclesPerS: sum((r) => r.cyclesPerS) / rounds.length,
    idleP50Ms: quantile(idle, 0.5),
    idleP99Ms: quantile(idle, 0.99),
    acquireP50Ms: quantile(acquire, 0.5),
    acquireP99Ms: quantile(acquire, 0.99),
    acquireMaxMs: Math.max(...rounds.map((r) => r.acquireMaxMs)),
    selfReacquirePct: weighted(
      (r) => r.selfReacquirePct,
      (r) => r.grants,
    ),
    sharesPct: Array.from({ length: ranks }, (_, i) =>
      weighted(
        (r) => r.sharesPct[i] ?? 0,
        (r) => r.grants,
      ),
    ),
    overlaps: sum((r) => r.overlaps),
    timeouts: sum((r) => r.timeouts),
    inOrderPct: weighted(
      (r) => r.inOrderPct,
      (r) => r.contested,
    ),
    contested: sum((r) => r.contested),
    acquireMs: acquire,
    idleMs: idle,
    grants: sum((r) => r.grants),
    allGrants: sum((r) => r.allGrants),
    cpuUs: sum((r) => r.cpuUs),
  }
}
