import { quantile } from '../stats.js'

/** One contender's share of an interleaved measurement. */
export interface InterleaveEntry {
  readonly id: string
  /** Runs cycles back to back until `deadline` (performance.now() ms); returns how many completed. */
  block(deadline: number): Promise<number>
}

/** One measured block of one entry. */
export interface Block {
  readonly cycles: number
  readonly elapsedMs: number
  /** Client CPU (user + system) of this process during the block, in µs. */
  readonly cpuUs: number
}

/** Blocks of an entry, or the error that removed it from the measurement. */
export interface EntryBlocks {
  readonly blocks: Block[]
  error?: unknown
}

/** Fisher-Yates, in place. */
export function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    const a = items[i] as T
    items[i] = items[j] as T
    items[j] = a
  }
  return items
}

/**
 * Runs `rounds` rounds; in each, every entry runs one block of `blockMs` in a freshly
 * shuffled order, so that the drift of a shared machine hits every contender alike. An
 * entry that throws is dropped from later rounds and its error kept.
 */
export async function interleave(
  entries: readonly InterleaveEntry[],
  rounds: number,
  blockMs: number,
): Promise<Map<string, EntryBlocks>> {
  const out = new Map<string, EntryBlocks>(entries.map((e) => [e.id, { blocks: [] }]))
  for (let round = 0; round < rounds; round++) {
    for (const entry of shuffle([...entries])) {
      const mine = out.get(entry.id) as EntryBlocks
      if (mine.error !== undefined) continue
      try {
        const cpu = process.cpuUsage()
        const t0 = performance.now()
        const cycles = await entry.block(t0 + blockMs)
        const elapsedMs = performance.now() - t0
        const used = process.cpuUsage(cpu)
        mine.blocks.push({ cycles, elapsedMs, cpuUs: used.user + used.system })
      } catch (err) {
        mine.error = err
      }
    }
  }
  return out
}

/** Per-block rate (1/s) and CPU per cycle (µs), summarised over the blocks. */
export interface BlockFigures {
  readonly ratePerS: number
  readonly rateP25: number
  readonly rateP75: number
  readonly cpuUsPerCycle: number
  readonly blocks: number
}

export function blockFigures(blocks: readonly Block[]): BlockFigures {
  const ok = blocks.filter((b) => b.cycles > 0 && b.elapsedMs > 0)
  const rates = ok.map((b) => (1000 * b.cycles) / b.elapsedMs)
  return {
    ratePerS: quantile(rates, 0.5),
    rateP25: quantile(rates, 0.25),
    rateP75: quantile(rates, 0.75),
    cpuUsPerCycle: quantile(
      ok.map((b) => b.cpuUs / b.cycles),
      0.5,
    ),
    blocks: ok.length,
  }
}
