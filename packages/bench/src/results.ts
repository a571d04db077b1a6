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
  /** This row's median over the floor's median; undefined without a floor in the group. */
  readonly ratio: number | undefined
  readonly notes: readonly string[]
}

const RATIO_UNITS = new Set(['1/s', 'ms', 'µs'])

type Who = Omit<Sample, 'metric' | 'unit' | 'value'>

/** Collects samples and failures across runs and folds them into table rows. */
export class Results {
  readonly #samples: Sample[] = []
  /** Contenders in first-seen order, with their failure messages. */
  readonly #contenders = new Map<string, { who: Who; failures: string[] }>()

  add(sample: Sample): void {
    this.#samples.push(sample)
    this.#entry(sample)
  }

  /** Records that a contender failed in one run; its rows show the message. */
  fail(who: Who, error: unknown): void {
    const message = error instanceof Error ? error.message : String(error)
    this.#entry(who).failures.push((message.split('\n')[0] ?? 'failed').slice(0, 160))
  }

  /** Every sample so far. */
  samples(): readonly Sample[] {
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
        const first = values[0] as Sample
        const s = spread(values.map((v) => v.value))
        rows.push({ ...first, spread: s, ratio: this.#ratio(first, s.median), notes: failures })
      }
    }
    return rows
  }

  #ratio(sample: Sample, median: number): number | undefined {
    // Ratios compare rates and times; shares and counts are read as they are.
    if (!RATIO_UNITS.has(sample.unit)) return undefined
    if (sample.role === 'floor') return 1
    const floor = this.#samples.filter(
      (f) => f.role === 'floor' && f.group === sample.group && f.metric === sample.metric,
    )
    if (floor.length === 0) return undefined
    const floorMedian = spread(floor.map((f) => f.value)).median
    return floorMedian > 0 ? median / floorMedian : undefined
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
