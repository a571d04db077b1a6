import type { BackendTarget, ContenderSpec, LockClient } from '../lock-client.js'
import type { RoundTripProbe } from '../probes/round-trip-probe.js'
import type { Sample } from '../results.js'
import { quantile } from '../stats.js'
import { blockFigures, type InterleaveEntry, interleave } from './interleave.js'
import type { Recorder } from './uncontended.js'

/** Sizes of the independent-keys scenario. */
export interface KeysOptions {
  /** Key counts to measure, e.g. 1, 4, 16, 64. */
  readonly counts: readonly number[]
  readonly warmupMs: number
  readonly blockMs: number
  readonly rounds: number
}

/** How the floor is opened for N keys: one client for all (`shared`) or one per key. */
export type KeysFloorShape = 'shared' | 'per-key'

/** Metric name of the throughput at `n` keys. */
export const keysMetric = (n: number) => `cycles/s at ${n} keys`

/** N loops, loop i cycling acquire+release on key i through `clientFor(i)`, until `deadline`. */
async function loops(
  n: number,
  deadline: number,
  keyPrefix: string,
  clientFor: (i: number) => LockClient,
): Promise<number> {
  let cycles = 0
  const loop = async (i: number) => {
    const client = clientFor(i)
    const key = `${keyPrefix}${i}`
    while (performance.now() < deadline) {
      const release = await client.acquire(key, 5_000)
      if (release === null) throw new Error(`independent key ${key} was not granted`)
      await release()
      cycles += 1
    }
  }
  await Promise.all(Array.from({ length: n }, (_, i) => loop(i)))
  return cycles
}

/**
 * Independent keys in one process: N concurrent loops, each on its own key, through one
 * Baton Locker, against the floor at its natural best (`floorShape`). Every (contender,
 * N) pair is one entry of the shuffled-block interleave; the figure is the median over
 * blocks of all loops' cycles/s together. With a probe, a separate untimed pass counts
 * Baton's server sessions and round trips per cycle at the two largest counts.
 */
export async function runKeys(
  backend: string,
  floor: ContenderSpec,
  floorShape: KeysFloorShape,
  baton: ContenderSpec,
  target: BackendTarget,
  options: KeysOptions,
  results: Recorder,
  probe?: (target: BackendTarget) => Promise<RoundTripProbe>,
): Promise<void> {
  const who = (c: ContenderSpec) => ({
    scenario: 'keys',
    backend,
    contender: c.name,
    role: c.role,
    group: `keys/${backend}`,
  })
  const most = Math.max(...options.counts)
  const floorClients: LockClient[] = []
  let batonClient: LockClient | undefined
  try {
    try {
      const n = floorShape === 'shared' ? 1 : most
      for (let i = 0; i < n; i++) floorClients.push(await floor.open(target))
    } catch (err) {
      results.fail(who(floor), err)
    }
    try {
      batonClient = await baton.open(target)
    } catch (err) {
      results.fail(who(baton), err)
    }
    const entries: Array<InterleaveEntry & { contender: ContenderSpec; n: number }> = []
    for (const n of options.counts) {
      if (floorClients.length > 0) {
        entries.push({
          id: `floor:${n}`,
          contender: floor,
          n,
          block: (deadline) =>
            loops(n, deadline, `bench:keys:floor:${process.pid}:`, (i) =>
              floorShape === 'shared'
                ? (floorClients[0] as LockClient)
                : (floorClients[i] as LockClient),
            ),
        })
      }
      const client = batonClient
      if (client !== undefined) {
        entries.push({
          id: `baton:${n}`,
          contender: baton,
          n,
          block: (deadline) => loops(n, deadline, `bench:keys:baton:${process.pid}:`, () => client),
        })
      }
    }
    const warm = await interleave(entries, 1, options.warmupMs)
    const measured = await interleave(
      entries.filter((e) => warm.get(e.id)?.error === undefined),
      options.rounds,
      options.blockMs,
    )
    const failed = new Set<ContenderSpec>()
    for (const entry of entries) {
      const error = warm.get(entry.id)?.error ?? measured.get(entry.id)?.error
      if (error !== undefined) {
        if (!failed.has(entry.contender)) results.fail(who(entry.contender), error)
        failed.add(entry.contender)
        continue
      }
      const blocks = measured.get(entry.id)?.blocks ?? []
      const f = blockFigures(blocks)
      const cpus = blocks.filter((b) => b.cycles > 0).map((b) => b.cpuUs / b.cycles)
      const base = who(entry.contender)
      const samples: Sample[] = [
        {
          ...base,
          metric: keysMetric(entry.n),
          unit: '1/s',
          value: f.ratePerS,
          blocks: { p25: f.rateP25, p75: f.rateP75, n: f.blocks },
        },
        {
          ...base,
          metric: `client CPU per cycle at ${entry.n} keys`,
          unit: 'µs',
          value: quantile(cpus, 0.5),
        },
      ]
      for (const s of samples) results.add(s)
    }
  } finally {
    for (const c of floorClients) await c.close().catch(() => {})
    await batonClient?.close().catch(() => {})
  }
  if (probe === undefined || batonClient === undefined) return
  const counted = [...options.counts].sort((a, b) => b - a).slice(0, 2)
  for (const n of counted.sort((a, b) => a - b)) {
    try {
      const p = await probe(target)
      try {
        const client = await baton.open(p.target)
        try {
          await loops(
            n,
            performance.now() + options.warmupMs,
            `bench:keys:count:${n}:`,
            () => client,
          )
          const trips = await p.roundTrips()
          const cycles = await loops(
            n,
            performance.now() + options.blockMs,
            `bench:keys:count:${n}:`,
            () => client,
          )
          const base = who(baton)
          results.add({
            ...base,
            metric: `round trips per cycle at ${n} keys`,
            unit: 'count',
            value: ((await p.roundTrips()) - trips) / Math.max(1, cycles),
          })
          results.add({
            ...base,
            metric: `server sessions at ${n} keys`,
            unit: 'count',
            value: await p.sessions(),
          })
        } finally {
          await client.close()
        }
      } finally {
        await p.close()
      }
    } catch (err) {
      results.fail(who(baton), err)
    }
  }
}
