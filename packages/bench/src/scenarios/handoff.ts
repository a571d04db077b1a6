import { randomBytes } from 'node:crypto'
import type { BackendTarget, ContenderSpec } from '../lock-client.js'
import type { Sample } from '../results.js'
import { clockSlackMs, monotonicNs, msSince } from '../shared-clock.js'
import { nextMessage } from '../worker-process.js'
import { analyseHandoff } from './handoff-analysis.js'
import { type HandoffStart, isDone, isReady } from './handoff-protocol.js'
import type { WorkerPool } from './worker-pool.js'

/** Shape of the contention. */
export interface HandoffOptions {
  readonly workers: number
  readonly holdMs: number
  readonly pauseMs: number
  readonly durationMs: number
}

/** Name of the share row of the worker ranked `index` (0 = busiest) of `count`. */
export function shareMetric(index: number, count: number): string {
  const rank = index === 0 ? 'busiest' : index === count - 1 ? 'least busy' : `#${index + 1}`
  return `share of worker ${rank}`
}

/** Largest tolerated disagreement of the workers' clocks with the parent's, in ms. */
const CLOCK_SLACK_LIMIT_MS = 0.001

/**
 * `options.workers` processes (child_process.fork, from `pool`) contend for one key for `durationMs`, each
 * holding about `holdMs` and pausing `pauseMs` between attempts. Returns the figures of
 * `analyseHandoff` as samples; throws if the shared-clock check fails or a worker dies.
 */
export async function runHandoff(
  backend: string,
  contender: ContenderSpec,
  target: BackendTarget,
  options: HandoffOptions,
  pool: WorkerPool,
): Promise<Sample[]> {
  const originNs = monotonicNs()
  const children = await pool.workers()
  try {
    const start: HandoffStart = {
      type: 'start',
      backend,
      contender: contender.name,
      url: target.url,
      key: `bench:handoff:${randomBytes(6).toString('hex')}`,
      originNs,
      holdMs: options.holdMs,
      pauseMs: options.pauseMs,
    }
    const slacks = await Promise.all(
      children.map(async (child) => {
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
    const startAtMs = msSince(originNs) + 50
    const endAtMs = startAtMs + options.durationMs
    const done = Promise.all(
      children.map((c) => nextMessage(c, isDone, options.durationMs + 60_000)),
    )
    for (const child of children) child.send({ type: 'go', startAtMs, endAtMs })
    const f = analyseHandoff(await done, startAtMs, endAtMs)
    const base = {
      scenario: 'handoff',
      backend,
      contender: contender.name,
      role: contender.role,
      group: 'handoff',
    }
    const figures: Array<[string, string, number]> = [
      ['cycles/s', '1/s', f.cyclesPerS],
      ['idle per handoff p50', 'ms', f.idleP50Ms],
      ['idle per handoff p99', 'ms', f.idleP99Ms],
      ['acquire p50', 'ms', f.acquireP50Ms],
      ['acquire p99', 'ms', f.acquireP99Ms],
      ['acquire max', 'ms', f.acquireMaxMs],
      ['self re-acquire', '%', f.selfReacquirePct],
      ...f.sharesPct.map((pct, i): [string, string, number] => [
        shareMetric(i, f.sharesPct.length),
        '%',
        pct,
      ]),
      ['overlapping holds', 'count', f.overlaps],
      ['timed-out waits', 'count', f.timeouts],
    ]
    return figures.map(([metric, unit, value]) => ({ ...base, metric, unit, value }))
  } catch (err) {
    await pool.discard()
    throw err
  }
}
