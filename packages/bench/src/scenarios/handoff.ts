import type { ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import type { BackendTarget, ContenderSpec } from '../lock-client.js'
import type { RoundTripProbe } from '../probes/round-trip-probe.js'
import type { Results } from '../results.js'
import { clockSlackMs, monotonicNs, msSince } from '../shared-clock.js'
import { nextMessage } from '../worker-process.js'
import { analyseHandoff, type HandoffFigures, mergeHandoff } from './handoff-analysis.js'
import {
  type HandoffDone,
  type HandoffStart,
  isClosed,
  isDone,
  isReady,
} from './handoff-protocol.js'
import type { WorkerPool } from './worker-pool.js'

/** Shape of the contention. */
export interface HandoffOptions {
  /** Worker process counts, each a round of its own (e.g. 2, 4, 8, 16). */
  readonly processes: readonly number[]
  readonly holdMs: number
  readonly pauseMs: number
  /**
   * Contention before the measured window of every round (left out of the figures): the
   * first waits of fresh worker processes pay for JIT and lazily opened connections.
   */
  readonly warmupMs: number
  /** Measured window of one contender at one process count, over all its passes. */
  readonly durationMs: number
  /**
   * Rounds each contender's window is split into, run in mirrored order (floor, Baton,
   * peer, peer, Baton, floor for 2): a drift of the machine during the contenders' rounds
   * then weighs on all of them alike. Their figures are merged (`mergeHandoff`).
   */
  readonly passes: number
  /** Process count of the untimed pass through the counting proxy (0: none). */
  readonly countAt: number
  /** Window of that counted pass. */
  readonly countMs: number
}

/** The scenario name of a handoff with `n` processes, as the table shows it. */
export const handoffScenario = (n: number) => `handoff, ${n} processes`

/** Name of the share row of the worker ranked `index` (0 = busiest) of `count`. */
export function shareMetric(index: number, count: number): string {
  const rank = index === 0 ? 'busiest' : index === count - 1 ? 'least busy' : `#${index + 1}`
  return `share of worker ${rank}`
}

/** Largest tolerated disagreement of the workers' clocks with the parent's, in ms. */
const CLOCK_SLACK_LIMIT_MS = 0.001

/**
 * One round: `count` processes (child_process.fork, from `pool`) contend for one key on
 * `url` for `durationMs`, each holding about `holdMs` and pausing `pauseMs` between
 * attempts. Returns `analyseHandoff`'s figures; throws if the shared-clock check fails or
 * a worker dies (the pool is then discarded).
 */
export async function handoffRound(
  backend: string,
  contender: ContenderSpec,
  url: string,
  count: number,
  options: Pick<HandoffOptions, 'holdMs' | 'pauseMs' | 'warmupMs'>,
  durationMs: number,
  pool: WorkerPool,
  onReady?: () => Promise<void>,
): Promise<HandoffFigures> {
  const names = Array.from({ length: count }, () => contender.name)
  const round = await contendRound(backend, names, url, options, durationMs, pool, onReady)
  return analyseHandoff(round.reports, round.measureFromMs, round.endAtMs)
}

/** What every worker of a round did, and the measured window (shared clock, since origin). */
export interface ContendedRound {
  /** One report per worker, in the order of the contender names. */
  readonly reports: readonly HandoffDone[]
  readonly measureFromMs: number
  readonly endAtMs: number
}

/**
 * A handoff-shaped round whose workers may run different contenders: worker i (from
 * `pool`) opens `contenders[i]` (a name `contenderNamed` knows) and contends for one
 * fresh key. The shared-clock check and the failure handling are the handoff's.
 */
export async function contendRound(
  backend: string,
  contenders: readonly string[],
  url: string,
  options: Pick<HandoffOptions, 'holdMs' | 'pauseMs' | 'warmupMs'>,
  durationMs: number,
  pool: WorkerPool,
  onReady?: () => Promise<void>,
): Promise<ContendedRound> {
  const originNs = monotonicNs()
  let children: readonly ChildProcess[] = []
  try {
    children = await pool.workers(contenders.length)
    const key = `bench:handoff:${randomBytes(6).toString('hex')}`
    const slacks = await Promise.all(
      children.map(async (child, i) => {
        const start: HandoffStart = {
          type: 'start',
          backend,
          contender: contenders[i] as string,
          url,
          key,
          originNs,
          holdMs: options.holdMs,
          pauseMs: options.pauseMs,
        }
        const ready = nextMessage(child, isReady, 60_000)
        const sentNs = monotonicNs()
        child.send(start)
        const { nowNs } = await ready
        return clockSlackMs(sentNs, nowNs, monotonicNs())
      }),
    )
    const worst = Math.max(...slacks)
    if (worst > CLOCK_SLACK_LIMIT_MS) {
      throw new Error(`shared-clock check failed: a worker's monotonic clock is off by ${worst} ms`)
    }
    await onReady?.()
    const startAtMs = msSince(originNs) + 50
    const measureFromMs = startAtMs + options.warmupMs
    const endAtMs = measureFromMs + durationMs
    const done = Promise.all(children.map((c) => nextMessage(c, isDone, durationMs + 60_000)))
    // Listening for `closed` from the start: a worker may close before the last one reports.
    const closing = Promise.all(children.map((c) => nextMessage(c, isClosed, durationMs + 90_000)))
    closing.catch(() => {}) // awaited below; a rejection before then is not unhandled
    for (const child of children) child.send({ type: 'go', startAtMs, endAtMs })
    const reports = await done
    const closed = await closing
    const failed = closed.find((c) => c.error !== undefined)
    if (failed !== undefined) throw new Error(`closing a worker's client failed: ${failed.error}`)
    return { reports, measureFromMs, endAtMs }
  } catch (err) {
    await pool.discard()
    throw err
  }
}

/**
 * Another backend's floor run in the same passes as a backend's own contenders, so that a
 * backend judged against it (`handoffReference`) is divided by a figure of the same minutes
 * of a shared machine, not of a round minutes apart.
 */
export interface PairedFloor {
  /** The backend whose contender the workers open, and where its server is. */
  readonly backend: string
  readonly target: BackendTarget
  /** Its floor, as that backend names it (the workers look it up by this name). */
  readonly floor: ContenderSpec
}

/** The table name of a paired floor: e.g. `floor: postgres pg_advisory_lock ..., same passes`. */
export function pairedFloorName(paired: Pick<PairedFloor, 'backend' | 'floor'>): string {
  return `floor: ${paired.backend} ${paired.floor.name.replace(/^floor: /, '')}, same passes`
}

/**
 * The timed rounds of every contender at `count` processes: `options.passes` rounds each,
 * in mirrored order, each `durationMs / passes` long; their merged figures are recorded as
 * rows of `handoffScenario(count)` in `group` (whose floor is the reference of the
 * ratios), with the acquire and idle distributions for the charts. A contender whose round
 * fails is reported through `failed` and left out. With `paired`, that floor takes part in
 * the passes too, first, and is the group's floor row (recorded under `backend`, named by
 * `pairedFloorName`).
 */
export async function runHandoffs(
  backend: string,
  contenders: readonly ContenderSpec[],
  target: BackendTarget,
  count: number,
  options: HandoffOptions,
  pool: WorkerPool,
  group: string,
  results: Pick<Results, 'add' | 'addDistribution'>,
  failed: (contender: ContenderSpec, err: unknown) => void,
  log: (line: string) => void = () => {},
  paired?: PairedFloor,
): Promise<void> {
  // What the table shows, and what the workers run: the same but for a paired floor.
  interface Entry {
    readonly row: ContenderSpec
    readonly runs: ContenderSpec
    readonly backend: string
    readonly url: string
  }
  const entries: Entry[] = [
    ...(paired === undefined
      ? []
      : [
          {
            row: { ...paired.floor, name: pairedFloorName(paired), role: 'floor' as const },
            runs: paired.floor,
            backend: paired.backend,
            url: paired.target.url,
          },
        ]),
    ...contenders.map((c) => ({ row: c, runs: c, backend, url: target.url })),
  ]
  const passes = Math.max(1, Math.floor(options.passes))
  const order: Entry[] = []
  for (let pass = 0; pass < passes; pass++) {
    order.push(...(pass % 2 === 0 ? entries : [...entries].reverse()))
  }
  const rounds = new Map<Entry, HandoffFigures[]>()
  const broken = new Set<Entry>()
  for (const entry of order) {
    if (broken.has(entry)) continue
    log(`handoff ${backend} x${count}: ${entry.row.name}`)
    try {
      const f = await handoffRound(
        entry.backend,
        entry.runs,
        entry.url,
        count,
        options,
        options.durationMs / passes,
        pool,
      )
      rounds.set(entry, [...(rounds.get(entry) ?? []), f])
    } catch (err) {
      broken.add(entry)
      failed(entry.row, err)
    }
  }
  for (const entry of entries) {
    const measured = rounds.get(entry)
    if (broken.has(entry) || measured === undefined) continue
    recordHandoff(backend, entry.row, count, group, mergeHandoff(measured), results)
  }
}

function recordHandoff(
  backend: string,
  contender: ContenderSpec,
  count: number,
  group: string,
  f: HandoffFigures,
  results: Pick<Results, 'add' | 'addDistribution'>,
): void {
  const scenario = handoffScenario(count)
  const base = { scenario, backend, contender: contender.name, role: contender.role, group }
  const least = f.sharesPct[f.sharesPct.length - 1] ?? Number.NaN
  const figures: Array<[string, string, number]> = [
    ['cycles/s', '1/s', f.cyclesPerS],
    ['idle per handoff p50', 'ms', f.idleP50Ms],
    ['idle per handoff p99', 'ms', f.idleP99Ms],
    ['acquire p50', 'ms', f.acquireP50Ms],
    ['acquire p99', 'ms', f.acquireP99Ms],
    ['acquire max', 'ms', f.acquireMaxMs],
    ['grants in arrival order', '%', f.inOrderPct],
    ['self re-acquire', '%', f.selfReacquirePct],
    ['share of worker busiest', '%', f.sharesPct[0] ?? Number.NaN],
    ['share of worker least busy', '%', least],
    ['overlapping holds', 'count', f.overlaps],
    ['timed-out waits', 'count', f.timeouts],
    ['grants in round (warm-up and edges included)', 'count', f.allGrants],
  ]
  // Every process's CPU over the round against every grant of it: what a hand-off costs the
  // clients in all, holder and waiters alike. On a machine with fewer cores than workers
  // and servers, that CPU is also time the next grant waits for.
  if (Number.isFinite(f.cpuUs) && f.allGrants > 0)
    figures.push(['client CPU per grant (all workers)', 'µs', f.cpuUs / f.allGrants])
  for (const [metric, unit, value] of figures) results.add({ ...base, metric, unit, value })
  for (const [kind, values] of [
    ['acquire', f.acquireMs],
    ['idle', f.idleMs],
  ] as const) {
    results.addDistribution({ ...base, kind, processes: count, values: [...values] })
  }
  results.addDistribution({ ...base, kind: 'shares', processes: count, values: [...f.sharesPct] })
}

/**
 * The untimed counted pass: the same contention at `options.countAt` processes, every
 * worker connected through the backend's counting proxy, giving round trips (and, on
 * Redis, scripts) per grant. Rows go to the `handoffScenario(countAt)` rows.
 */
export async function countHandoff(
  backend: string,
  contender: ContenderSpec,
  target: BackendTarget,
  options: HandoffOptions,
  pool: WorkerPool,
  group: string,
  makeProbe: (target: BackendTarget) => Promise<RoundTripProbe>,
  results: Pick<Results, 'add'>,
): Promise<void> {
  const probe = await makeProbe(target)
  try {
    let trips0 = 0
    let scripts0 = 0
    const f = await handoffRound(
      backend,
      contender,
      probe.target.url,
      options.countAt,
      options,
      options.countMs,
      pool,
      async () => {
        trips0 = await probe.roundTrips()
        scripts0 = (await probe.scripts?.()) ?? 0
      },
    )
    // Traffic from the moment every worker is connected to the moment the last reported,
    // over every grant of the round (a timed-out wait's traffic counts against the grants).
    const grants = Math.max(1, f.allGrants)
    const base = {
      scenario: handoffScenario(options.countAt),
      backend,
      contender: contender.name,
      role: contender.role,
      group,
    }
    results.add({
      ...base,
      metric: 'round trips per grant (counted pass)',
      unit: 'count',
      value: ((await probe.roundTrips()) - trips0) / grants,
    })
    const scripts1 = await probe.scripts?.()
    if (scripts1 !== undefined) {
      results.add({
        ...base,
        metric: 'scripts per grant (counted pass)',
        unit: 'count',
        value: (scripts1 - scripts0) / grants,
      })
    }
  } finally {
    await probe.close()
  }
}
