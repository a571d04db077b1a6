import type { BackendTarget, ContenderSpec, LockClient } from '../lock-client.js'
import type { RoundTripProbe } from '../probes/round-trip-probe.js'
import type { Results, Sample } from '../results.js'
import { quantile } from '../stats.js'
import { blockFigures, type InterleaveEntry, interleave } from './interleave.js'

/** How long one uncontended measurement runs. */
export interface UncontendedOptions {
  /** Back-to-back cycles of each contender before the first block (JIT, connections, caches). */
  readonly warmupMs: number
  /** Length of one block (the 100 ms). */
  readonly blockMs: number
  /** Blocks per contender; each round runs every contender once, in a fresh random order. */
  readonly rounds: number
  /** Latencies kept per contender for p50/p99 (the first ones of the run). */
  readonly maxLatencies: number
}

/** Where a scenario puts its figures and failures. */
export type Recorder = Pick<Results, 'add' | 'fail'>

/**
 * Uncontended acquire+release cycles on one key per contender, back to back, with every
 * contender of the backend open at once in this process and measured in interleaved,
 * shuffled blocks (`interleave`): the primary figure is the median over blocks of each
 * contender's cycles/s, with the block quartiles as its spread, and the client CPU per
 * cycle (process.cpuUsage around each block). Waiting contenders are asked with a 5 s
 * wait (the call an application makes), attempt-only floors with none; on a free key both
 * are one attempt. A separate, untimed pass through the counting proxy gives round trips.
 */
export async function runUncontended(
  backend: string,
  contenders: readonly ContenderSpec[],
  target: BackendTarget,
  options: UncontendedOptions,
  results: Recorder,
  probe?: (target: BackendTarget) => Promise<RoundTripProbe>,
): Promise<void> {
  const scenario = backend === 'memory' ? 'core overhead' : 'uncontended'
  const who = (c: ContenderSpec) => ({
    scenario,
    backend,
    contender: c.name,
    role: c.role,
    group: `uncontended/${backend}`,
  })
  const open: Array<{ contender: ContenderSpec; client: LockClient; latencies: number[] }> = []
  try {
    for (const contender of contenders) {
      try {
        open.push({ contender, client: await contender.open(target), latencies: [] })
      } catch (err) {
        results.fail(who(contender), err)
      }
    }
    const entries: InterleaveEntry[] = open.map(({ contender, client, latencies }, i) => {
      const key = `bench:uncontended:${i}:${process.pid}`
      const waitMs = contender.waits ? 5_000 : 0
      return {
        id: contender.name,
        async block(deadline: number): Promise<number> {
          let cycles = 0
          let now = performance.now()
          while (now < deadline) {
            const release = await client.acquire(key, waitMs)
            if (release === null)
              throw new Error(`${contender.name}: uncontended key ${key} was not granted`)
            await release()
            const after = performance.now()
            if (latencies.length < options.maxLatencies) latencies.push(after - now)
            now = after
            cycles += 1
          }
          return cycles
        },
      }
    })
    // Warm-up: one block per contender, not recorded; then the latencies start afresh.
    const warm = await interleave(entries, 1, options.warmupMs)
    for (const o of open) o.latencies.length = 0
    const measured = await interleave(
      entries.filter((e) => warm.get(e.id)?.error === undefined),
      options.rounds,
      options.blockMs,
    )
    for (const { contender, latencies } of open) {
      const base = who(contender)
      const error = warm.get(contender.name)?.error ?? measured.get(contender.name)?.error
      if (error !== undefined) {
        results.fail(base, error)
        continue
      }
      const blocks = measured.get(contender.name)?.blocks ?? []
      const f = blockFigures(blocks)
      const cpus = blocks.filter((b) => b.cycles > 0).map((b) => b.cpuUs / b.cycles)
      const samples: Sample[] = [
        {
          ...base,
          metric: 'cycles/s',
          unit: '1/s',
          value: f.ratePerS,
          blocks: { p25: f.rateP25, p75: f.rateP75, n: f.blocks },
        },
        { ...base, metric: 'cycle p50', unit: 'µs', value: quantile(latencies, 0.5) * 1000 },
        { ...base, metric: 'cycle p99', unit: 'µs', value: quantile(latencies, 0.99) * 1000 },
        {
          ...base,
          metric: 'client CPU per cycle',
          unit: 'µs',
          value: f.cpuUsPerCycle,
          blocks: { p25: quantile(cpus, 0.25), p75: quantile(cpus, 0.75), n: cpus.length },
        },
      ]
      for (const s of samples) results.add(s)
    }
  } finally {
    for (const { client } of open) await client.close().catch(() => {})
  }
  if (probe === undefined) return
  for (const contender of contenders) {
    if (!open.some((o) => o.contender === contender)) continue
    try {
      const counted = await countRoundTrips(contender, target, probe)
      const base = who(contender)
      results.add({
        ...base,
        metric: 'round trips per cycle',
        unit: 'count',
        value: counted.roundTrips,
      })
      results.add({
        ...base,
        metric: 'connections opened per cycle',
        unit: 'count',
        value: counted.connections,
      })
    } catch (err) {
      results.fail(who(contender), err)
    }
  }
}

const COUNTED_CYCLES = 50

/**
 * Round trips of one cycle, counted on the wire through the backend's counting proxy in a
 * separate, untimed pass (the proxy would slow the timed one): explains a ratio.
 */
async function countRoundTrips(
  contender: ContenderSpec,
  target: BackendTarget,
  makeProbe: (target: BackendTarget) => Promise<RoundTripProbe>,
): Promise<{ roundTrips: number; connections: number }> {
  const probe = await makeProbe(target)
  try {
    const client = await contender.open(probe.target)
    try {
      const key = `bench:round-trips:${contender.role}:${process.pid}`
      const waitMs = contender.waits ? 5_000 : 0
      const cycle = async () => {
        const release = await client.acquire(key, waitMs)
        if (release === null)
          throw new Error(`${contender.name}: uncontended key ${key} was not granted`)
        await release()
      }
      for (let i = 0; i < 5; i++) await cycle()
      const trips = await probe.roundTrips()
      const opened = await probe.sessionsOpened()
      for (let i = 0; i < COUNTED_CYCLES; i++) await cycle()
      return {
        roundTrips: ((await probe.roundTrips()) - trips) / COUNTED_CYCLES,
        connections: ((await probe.sessionsOpened()) - opened) / COUNTED_CYCLES,
      }
    } finally {
      await client.close()
    }
  } finally {
    await probe.close()
  }
}
