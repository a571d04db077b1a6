import type { ContenderRole } from './lock-client.js'
import { type Spread, spread } from './stats.js'

/** One figure from one run of one contender. */
export interface Sample {
  readonly scenario: string
  readonly backend: string
  readonly contender: string
  readonly role: ContenderRole
  readonly metric: string
  readonly unit: string
  readonly value: number
  /** Rows of one group are divided by the group's floor row of the same metric. */
  readonly group: string
  /** Spread over the interleaved blocks of this run (quartiles of the per-block values). */
  readonly blocks?: BlockSpread
}

/** Quartiles of a metric over the blocks of one run, and how many blocks there were. */
export interface BlockSpread {
  readonly p25: number
  readonly p75: number
  readonly n: number
}

/** One table row: a metric's spread over the runs, and its ratio to the floor's median. */
export interface Row {
  readonly scenario: string
  readonly backend: string
  readonly contender: string
  readonly role: ContenderRole
  readonly metric: string
  readonly unit: string
  readonly spread: Spread
  /**
   * Median over runs of (this row's value / the floor's value in the same run); undefined
   * without a floor in the group. Per-run ratios cancel the drift of a shared machine.
   */
  readonly ratio: number | undefined
  readonly notes: readonly string[]
  /** Block quartiles (medians over runs) and the blocks of every run together. */
  readonly blocks?: BlockSpread
}

const RATIO_UNITS = new Set(['1/s', 'ms', 'µs'])

type Who = Omit<Sample, 'metric' | 'unit' | 'value' | 'blocks'>

type Stored = Sample & { readonly run: number }

/** Raw values of one contender's latency (ms) in one scenario, pooled over the runs (charts). */
export interface Distribution {
  readonly scenario: string
  readonly backend: string
  readonly contender: string
  readonly role: ContenderRole
  /** What the values are, e.g. `acquire` or `idle`. */
  readonly kind: string
  /** Worker processes of the handoff the values come from. */
  readonly processes: number
  readonly values: number[]
}

/** Values kept per distribution (the earliest ones), to bound memory. */
const MAX_DISTRIBUTION_VALUES = 50_000

/** Collects samples and failures across runs and folds them into table rows. */
export class Results {
  readonly #samples: Stored[] = []
  #run = 1

  /** Tags the samples added from now on with run number `run`. */
  beginRun(run: number): void {
    this.#run = run
  }
  /** Contenders in first-seen order, with their failure messages. */
  readonly #contenders = new Map<string, { who: Who; failures: string[] }>()

  readonly #distributions = new Map<string, Distribution>()

  /** Adds latencies to a distribution (pooled across runs). */
  addDistribution(d: Distribution): void {
    const id = `${d.scenario}|${d.backend}|${d.contender}|${d.kind}`
    const mine = this.#distributions.get(id)
    if (mine === undefined) {
      this.#distributions.set(id, { ...d, values: d.values.slice(0, MAX_DISTRIBUTION_VALUES) })
      return
    }
    for (const v of d.values) {
      if (mine.values.length >= MAX_DISTRIBUTION_VALUES) break
      mine.values.push(v)
    }
  }

  /** Every distribution, in first-seen order. */
  distributions(): readonly Distribution[] {
    return [...this.#distributions.values()]
  }

  add(sample: Sample): void {
    this.#samples.push({ ...sample, run: this.#run })
    this.#entry(sample)
  }

  /** Records that a contender failed in one run; its rows show the message. */
  fail(who: Who, error: unknown): void {
    const message = error instanceof Error ? error.message : String(error)
    this.#entry(who).failures.push((message.split('\n')[0] ?? 'failed').slice(0, 160))
  }

  /** Every sample so far, with its run number. */
  samples(): ReadonlyArray<Sample & { readonly run: number }> {
    return this.#samples
  }

  /** One row per contender and metric, in the order they were first reported. */
  rows(): Row[] {
    const rows: Row[] = []
    for (const [id, { who, failures }] of this.#contenders) {
      const mine = this.#samples.filter((s) => contenderId(s) === id)
      const metrics = [...new Set(mine.map((s) => s.metric))]
      if (metrics.length === 0) {
        rows.push({
          ...who,
          metric: 'all runs failed',
          unit: '',
          spread: spread([]),
          ratio: undefined,
          notes: failures,
        })
        continue
      }
      for (const metric of metrics) {
        const values = mine.filter((s) => s.metric === metric)
        const { run: _run, value: _value, blocks: _blocks, ...first } = values[0] as Stored
        const s = spread(values.map((v) => v.value))
        const withBlocks = values.flatMap((v) => (v.blocks === undefined ? [] : [v.blocks]))
        const row: Row = { ...first, spread: s, ratio: this.#ratio(values), notes: failures }
        rows.push(
          withBlocks.length === 0
            ? row
            : {
                ...row,
                blocks: {
                  p25: spread(withBlocks.map((b) => b.p25)).median,
                  p75: spread(withBlocks.map((b) => b.p75)).median,
                  n: withBlocks.reduce((sum, b) => sum + b.n, 0),
                },
              },
        )
      }
    }
    return rows
  }

  #ratio(values: readonly Stored[]): number | undefined {
    const sample = values[0]
    // Ratios compare rates and times; shares and counts are read as they are.
    if (sample === undefined || !RATIO_UNITS.has(sample.unit)) return undefined
    if (sample.role === 'floor') return 1
    const perRun = values.flatMap((v) => {
      const floor = this.#samples.find(
        (f) =>
          f.role === 'floor' && f.group === v.group && f.metric === v.metric && f.run === v.run,
      )
      return floor !== undefined && floor.value > 0 ? [v.value / floor.value] : []
    })
    return perRun.length === 0 ? undefined : spread(perRun).median
  }

  #entry(who: Who): { who: Who; failures: string[] } {
    const id = contenderId(who)
    let entry = this.#contenders.get(id)
    if (entry === undefined) {
      entry = {
        who: {
          scenario: who.scenario,
          backend: who.backend,
          contender: who.contender,
          role: who.role,
          group: who.group,
        },
        failures: [],
      }
      this.#contenders.set(id, entry)
    }
    return entry
  }
}

function contenderId(w: Who): string {
  return `${w.scenario}|${w.backend}|${w.contender}`
}
