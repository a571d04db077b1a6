import { quantile } from '../stats.js'
import type { HandoffCycle } from './handoff-protocol.js'

/** What a shared-lock round showed (R readers, one writer), all times in ms. */
export interface SharedFigures {
  /** Readers' grants in the window, per second. */
  readonly readerPerS: number
  /** The writer's grants in the window, per second. */
  readonly writerPerS: number
  readonly writerAcquireP50Ms: number
  readonly writerAcquireP99Ms: number
  /** The writer's share (%) of all grants in the window; 0 is a starved writer. */
  readonly writerSharePct: number
  /** Most reader holds at once over the whole round (1 when the readers are exclusive). */
  readonly mostReaders: number
  /** Writer holds that overlapped any other hold, over the whole round: must be 0 (R1). */
  readonly writerOverlaps: number
  readonly timeouts: number
}

/** What a semaphore round showed, all times in ms. */
export interface SemaphoreFigures {
  readonly perS: number
  readonly acquireP50Ms: number
  readonly acquireP99Ms: number
  /** Most holds at once over the whole round: must never exceed the limit (M1). */
  readonly mostHolders: number
  readonly timeouts: number
}

type Report = { readonly cycles: readonly HandoffCycle[]; readonly timeouts: number }

/**
 * A hold is [grant seen by its holder, moment just before it sent its release]: the next
 * grant can only be made after the server processed that release, so two of these
 * intervals overlapping is a real overlap of holds, never an artefact of the timestamps.
 */
const overlap = (a: HandoffCycle, b: HandoffCycle) =>
  a.acquiredAtMs < b.releasingAtMs && b.acquiredAtMs < a.releasingAtMs

/** Most intervals open at once (an end at the instant of a start counts first). */
export function mostAtOnce(cycles: readonly HandoffCycle[]): number {
  const edges: Array<[number, number]> = []
  for (const c of cycles) edges.push([c.acquiredAtMs, 1], [c.releasingAtMs, -1])
  edges.sort((a, b) => a[0] - b[0] || a[1] - b[1])
  let open = 0
  let most = 0
  for (const [, delta] of edges) {
    open += delta
    most = Math.max(most, open)
  }
  return most
}

const inWindow = (c: HandoffCycle, fromMs: number, toMs: number) =>
  c.acquiredAtMs >= fromMs && c.acquiredAtMs < toMs

/** Folds a shared-lock round: worker `writer` is the writer, every other one a reader. */
export function analyseShared(
  reports: readonly Report[],
  writer: number,
  fromMs: number,
  toMs: number,
): SharedFigures {
  const seconds = (toMs - fromMs) / 1000
  const writes = reports[writer]?.cycles ?? []
  const reads = reports.flatMap((r, i) => (i === writer ? [] : r.cycles))
  const everyHold = reports.flatMap((r) => r.cycles)
  let writerOverlaps = 0
  for (const w of writes) {
    if (everyHold.some((c) => c !== w && overlap(w, c))) writerOverlaps += 1
  }
  const windowWrites = writes.filter((c) => inWindow(c, fromMs, toMs))
  const windowReads = reads.filter((c) => inWindow(c, fromMs, toMs)).length
  const acquire = windowWrites.map((c) => c.acquiredAtMs - c.requestedAtMs)
  const all = windowReads + windowWrites.length
  return {
    readerPerS: windowReads / seconds,
    writerPerS: windowWrites.length / seconds,
    writerAcquireP50Ms: quantile(acquire, 0.5),
    writerAcquireP99Ms: quantile(acquire, 0.99),
    writerSharePct: all === 0 ? 0 : (100 * windowWrites.length) / all,
    mostReaders: mostAtOnce(reads),
    writerOverlaps,
    timeouts: reports.reduce((sum, r) => sum + r.timeouts, 0),
  }
}

/** Folds a semaphore round (every worker a permit holder). */
export function analyseSemaphore(
  reports: readonly Report[],
  fromMs: number,
  toMs: number,
): SemaphoreFigures {
  const all = reports.flatMap((r) => r.cycles)
  const window = all.filter((c) => inWindow(c, fromMs, toMs))
  const acquire = window.map((c) => c.acquiredAtMs - c.requestedAtMs)
  return {
    perS: window.length / ((toMs - fromMs) / 1000),
    acquireP50Ms: quantile(acquire, 0.5),
    acquireP99Ms: quantile(acquire, 0.99),
    mostHolders: mostAtOnce(all),
    timeouts: reports.reduce((sum, r) => sum + r.timeouts, 0),
  }
}
