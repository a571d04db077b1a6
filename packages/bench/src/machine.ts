import { readFileSync } from 'node:fs'
import { cpus, loadavg, release, totalmem, type } from 'node:os'

/** What the figures were measured on. */
export interface Machine {
  readonly cpu: string
  readonly cores: number
  readonly memoryGiB: number
  readonly os: string
  readonly node: string
  /** 1-, 5- and 15-minute load averages when the run started and ended. */
  loadStart: readonly number[]
  loadEnd: readonly number[]
  /** Busy share of all cores over the whole run (see `busyShare`); NaN off Linux. */
  busyPct: number
}

/** Describes this machine (servers are described by their backends). */
export function describeMachine(): Machine {
  const list = cpus()
  return {
    cpu: list[0]?.model.trim() ?? 'unknown',
    cores: list.length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    os: `${type()} ${release()}`,
    node: process.version,
    loadStart: loadavg(),
    loadEnd: [],
    busyPct: Number.NaN,
  }
}

/** The 1-, 5- and 15-minute load averages now. */
export function currentLoad(): number[] {
  return loadavg()
}

/** Aggregate CPU time counters of the machine (all cores), in clock ticks. */
export interface CpuTicks {
  readonly busy: number
  readonly total: number
}

/**
 * Reads the first line of /proc/stat: user nice system idle iowait irq softirq steal
 * (guest time is already inside user). Busy = everything but idle and iowait. Undefined
 * where /proc/stat is missing (not Linux).
 */
export function readCpuTicks(): CpuTicks | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? ''
    const fields = line.trim().split(/\s+/).slice(1, 9).map(Number)
    if (fields.length < 4 || fields.some((n) => !Number.isFinite(n))) return undefined
    const total = fields.reduce((sum, n) => sum + n, 0)
    const idle = (fields[3] ?? 0) + (fields[4] ?? 0)
    return { busy: total - idle, total }
  } catch {
    return undefined
  }
}

/** Busy share (%) of all cores between two readings; NaN when either is missing or no time passed. */
export function busyShare(before: CpuTicks | undefined, after: CpuTicks | undefined): number {
  if (before === undefined || after === undefined) return Number.NaN
  const total = after.total - before.total
  return total <= 0 ? Number.NaN : (100 * (after.busy - before.busy)) / total
}

/** The machine's load over one stretch of the run (a round, or the whole run). */
export interface LoadWindow {
  readonly label: string
  readonly seconds: number
  /** Busy share of all cores, from /proc/stat deltas (includes the bench and its servers). */
  readonly busyPct: number
  readonly loadStart: readonly number[]
  readonly loadEnd: readonly number[]
}

/** Starts measuring a window; call the returned function at its end. */
export function loadWindow(label: string): () => LoadWindow {
  const ticks = readCpuTicks()
  const loadStart = loadavg()
  const t0 = performance.now()
  return () => ({
    label,
    seconds: (performance.now() - t0) / 1000,
    busyPct: busyShare(ticks, readCpuTicks()),
    loadStart,
    loadEnd: loadavg(),
  })
}
