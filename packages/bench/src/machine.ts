import { cpus, loadavg, release, totalmem, type } from 'node:os'

/** What the figures were measured on. */
export interface Machine {
  readonly cpu: string
  readonly cores: number
  readonly memoryGiB: number
  readonly os: string
  readonly node: string
  /** 1-minute load average when the run started and ended. */
  loadStart: number
  loadEnd: number
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
    loadStart: loadavg()[0] ?? Number.NaN,
    loadEnd: Number.NaN,
  }
}

/** The 1-minute load average now. */
export function currentLoad(): number {
  return loadavg()[0] ?? Number.NaN
}
