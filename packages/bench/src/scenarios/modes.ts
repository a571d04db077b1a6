import { randomBytes } from 'node:crypto'
import type { Locker } from '@baton-lock/core'
import type { BackendSpec } from '../backend-spec.js'
import type { BatonMode } from '../contenders/baton-contender.js'
import { batonClient } from '../contenders/baton-contender.js'
import type { BackendTarget, ContenderRole } from '../lock-client.js'
import type { Results } from '../results.js'
import { monotonicNs, msSince } from '../shared-clock.js'
import { contend } from './contend-loop.js'
import type { HandoffOptions } from './handoff.js'
import { type ContendedRound, contendRound } from './handoff.js'
import { analyseSemaphore, analyseShared } from './modes-analysis.js'
import type { WorkerPool } from './worker-pool.js'

/** Shape of the shared-lock and semaphore scenarios (the handoff's hold and pause). */
export interface ModesOptions {
  /** Reader counts of the shared-lock rounds (each beside one writer), e.g. 1, 2, 4, 8. */
  readonly readers: readonly number[]
  /** Semaphore limits; each round runs 2 x limit contenders. */
  readonly limits: readonly number[]
  readonly holdMs: number
  readonly pauseMs: number
  readonly warmupMs: number
  readonly durationMs: number
}

/** Worker contender names (`contenderNamed` resolves them in the worker processes). */
export const EXCLUSIVE_WORKER = 'Baton: Locker.acquire'
export const SHARED_WORKER = 'Baton: shared lock'
export const semaphoreWorker = (limit: number) => `Baton: semaphore, limit ${limit}`

/** Table names: the exclusive floor and Baton's rows of the two scenarios. */
export const EXCLUSIVE_FLOOR = 'Baton: exclusive only (same processes)'
export const SHARED_ROW = 'Baton: R shared + 1 exclusive'
export const SEMAPHORE_ROW = 'Baton: semaphore permits'

export const sharedScenario = (readers: number) =>
  `shared lock, ${readers} reader${readers === 1 ? '' : 's'} + 1 writer`
export const semaphoreScenario = (limit: number) =>
  `semaphore, limit ${limit}, ${2 * limit} contenders`

interface Member {
  readonly worker: string
  readonly mode: BatonMode
}

type Rows = Pick<Results, 'add' | 'fail'>

const exclusive = (count: number): Member[] =>
  Array.from({ length: count }, () => ({ worker: EXCLUSIVE_WORKER, mode: { mode: 'exclusive' } }))

/**
 * R readers (`mode: 'shared'`) and one writer (exclusive) on one key, each its own
 * process, against the floor: the same R + 1 processes all exclusive. Rows per reader
 * count in group `shared/<backend>/<R>`, so ratios are to the exclusive floor of the round.
 */
export async function runShared(
  spec: BackendSpec,
  target: BackendTarget,
  options: ModesOptions,
  pool: WorkerPool,
  results: Rows,
  log: (line: string) => void,
): Promise<void> {
  for (const readers of options.readers) {
    const group = `shared/${spec.name}/${readers}`
    const scenario = sharedScenario(readers)
    const shared: Member[] = [
      ...Array.from({ length: readers }, () => ({
        worker: SHARED_WORKER,
        mode: { mode: 'shared' } as const,
      })),
      ...exclusive(1),
    ]
    for (const [contender, role, members] of [
      [EXCLUSIVE_FLOOR, 'floor', exclusive(readers + 1)],
      [SHARED_ROW, 'baton', shared],
    ] as const) {
      log(`shared ${spec.name} x${readers}+1: ${contender}`)
      const base = { scenario, backend: spec.name, contender, role, group }
      const round = await guarded(base, results, log, () =>
        modeRound(spec, target, members, options, pool),
      )
      if (round === undefined) continue
      const writer = readers // the last member
      const f = analyseShared(round.reports, writer, round.measureFromMs, round.endAtMs)
      const figures: Array<[string, string, number]> = [
        ['reader acquisitions/s', '1/s', f.readerPerS],
        ['writer acquisitions/s', '1/s', f.writerPerS],
        ['writer acquire p50', 'ms', f.writerAcquireP50Ms],
        ['writer acquire p99', 'ms', f.writerAcquireP99Ms],
        ['writer share of grants', '%', f.writerSharePct],
        ['most readers at once', 'count', f.mostReaders],
        ['writer beside another holder', 'count', f.writerOverlaps],
        ['timed-out waits', 'count', f.timeouts],
      ]
      for (const [metric, unit, value] of figures) results.add({ ...base, metric, unit, value })
    }
  }
}

/**
 * 2 x limit contenders on one semaphore key (each its own process) against the floor:
 * the same processes on the exclusive lock. Rows in group `semaphore/<backend>/<limit>`.
 */
export async function runSemaphore(
  spec: BackendSpec,
  target: BackendTarget,
  options: ModesOptions,
  pool: WorkerPool,
  results: Rows,
  log: (line: string) => void,
): Promise<void> {
  for (const limit of options.limits) {
    const group = `semaphore/${spec.name}/${limit}`
    const scenario = semaphoreScenario(limit)
    const permits: Member[] = Array.from({ length: 2 * limit }, () => ({
      worker: semaphoreWorker(limit),
      mode: { mode: 'semaphore', limit } as const,
    }))
    for (const [contender, role, members] of [
      [EXCLUSIVE_FLOOR, 'floor', exclusive(2 * limit)],
      [SEMAPHORE_ROW, 'baton', permits],
    ] as const) {
      log(`semaphore ${spec.name} limit ${limit} x${2 * limit}: ${contender}`)
      const base = { scenario, backend: spec.name, contender, role: role as ContenderRole, group }
      const round = await guarded(base, results, log, () =>
        modeRound(spec, target, members, options, pool),
      )
      if (round === undefined) continue
      const f = analyseSemaphore(round.reports, round.measureFromMs, round.endAtMs)
      const figures: Array<[string, string, number]> = [
        ['acquisitions/s', '1/s', f.perS],
        ['acquire p50', 'ms', f.acquireP50Ms],
        ['acquire p99', 'ms', f.acquireP99Ms],
        ['most holders at once', 'count', f.mostHolders],
        ['timed-out waits', 'count', f.timeouts],
      ]
      for (const [metric, unit, value] of figures) results.add({ ...base, metric, unit, value })
    }
  }
}

/** A round that failed is recorded in its rows (and the log) and the scenario goes on. */
async function guarded<T>(
  who: Parameters<Results['fail']>[0],
  results: Rows,
  log: (line: string) => void,
  work: () => Promise<T>,
): Promise<T | undefined> {
  try {
    return await work()
  } catch (err) {
    log(`  failed: ${err instanceof Error ? err.message : String(err)}`)
    results.fail(who, err)
    return undefined
  }
}

/**
 * One round of `members` on one fresh key: worker processes (from `pool`) for a backend
 * processes can share, else loops in this process on one driver (memory).
 */
async function modeRound(
  spec: BackendSpec,
  target: BackendTarget,
  members: readonly Member[],
  options: Pick<HandoffOptions, 'holdMs' | 'pauseMs' | 'warmupMs' | 'durationMs'>,
  pool: WorkerPool,
): Promise<ContendedRound> {
  if (spec.crossProcess) {
    const names = members.map((m) => m.worker)
    return contendRound(spec.name, names, target.url, options, options.durationMs, pool)
  }
  const { Locker } = await import('@baton-lock/core')
  const driver = await spec.createDriver(target)
  const lockers = members.map(() => new Locker(driver, { ttlMs: 30_000, closeDriver: false }))
  try {
    const originNs = monotonicNs()
    const key = `bench:modes:${randomBytes(6).toString('hex')}`
    const startAtMs = msSince(originNs) + 50
    const measureFromMs = startAtMs + options.warmupMs
    const endAtMs = measureFromMs + options.durationMs
    const start = { key, originNs, holdMs: options.holdMs, pauseMs: options.pauseMs }
    const reports = await Promise.all(
      members.map(async (m, i) => ({
        type: 'done' as const,
        ...(await contend(batonClient(lockers[i] as Locker, m.mode), start, {
          startAtMs,
          endAtMs,
        })),
      })),
    )
    return { reports, measureFromMs, endAtMs }
  } finally {
    for (const locker of lockers) await locker.close()
    await driver.close()
  }
}
