import type { BackendTarget, ContenderSpec } from '../lock-client.js'
import type { RoundTripProbe } from '../probes/round-trip-probe.js'
import type { Sample } from '../results.js'
import { quantile } from '../stats.js'

/** How long one uncontended measurement runs. */
export interface UncontendedOptions {
  readonly warmupMs: number
  readonly durationMs: number
  /** Upper bound on measured cycles, whatever the duration. */
  readonly maxCycles: number
}

/**
 * Uncontended acquire+release cycles on one key by one client, back to back: cycles/s and
 * the latency of a whole cycle. Waiting contenders are asked with a 5 s wait (the call an
 * application makes), attempt-only floors with none; on a free key both are one attempt.
 */
export async function runUncontended(
  backend: string,
  contender: ContenderSpec,
  target: BackendTarget,
  options: UncontendedOptions,
  probe?: (target: BackendTarget) => Promise<RoundTripProbe>,
): Promise<Sample[]> {
  const timed = await timeCycles(backend, contender, target, options)
  if (probe === undefined) return timed
  const base = timed[0] as Sample
  const counted = await countRoundTrips(contender, target, probe)
  return [
    ...timed,
    { ...base, metric: 'round trips per cycle', unit: 'count', value: counted.roundTrips },
    { ...base, metric: 'connections opened per cycle', unit: 'count', value: counted.connections },
  ]
}

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

const COUNTED_CYCLES = 50

async function timeCycles(
  backend: string,
  contender: ContenderSpec,
  target: BackendTarget,
  options: UncontendedOptions,
): Promise<Sample[]> {
  const client = await contender.open(target)
  const key = `bench:uncontended:${contender.role}:${process.pid}`
  const waitMs = contender.waits ? 5_000 : 0
  const cycle = async () => {
    const release = await client.acquire(key, waitMs)
    if (release === null)
      throw new Error(`${contender.name}: uncontended key ${key} was not granted`)
    await release()
  }
  try {
    const warmupEnd = performance.now() + options.warmupMs
    while (performance.now() < warmupEnd) await cycle()
    const latenciesMs: number[] = []
    const cpuBefore = process.cpuUsage()
    const start = performance.now()
    const end = start + options.durationMs
    let now = start
    while (now < end && latenciesMs.length < options.maxCycles) {
      await cycle()
      const after = performance.now()
      latenciesMs.push(after - now)
      now = after
    }
    const elapsedS = (now - start) / 1000
    // Client CPU (user + system) spent per cycle: on a crowded machine, CPU is latency.
    const cpu = process.cpuUsage(cpuBefore)
    const cpuUsPerCycle = (cpu.user + cpu.system) / latenciesMs.length
    const base = {
      scenario: backend === 'memory' ? 'core overhead' : 'uncontended',
      backend,
      contender: contender.name,
      role: contender.role,
      group: `uncontended/${backend}`,
    }
    return [
      { ...base, metric: 'cycles/s', unit: '1/s', value: latenciesMs.length / elapsedS },
      { ...base, metric: 'cycle p50', unit: 'µs', value: quantile(latenciesMs, 0.5) * 1000 },
      { ...base, metric: 'cycle p99', unit: 'µs', value: quantile(latenciesMs, 0.99) * 1000 },
      { ...base, metric: 'client CPU per cycle', unit: 'µs', value: cpuUsPerCycle },
    ]
  } finally {
    await client.close()
  }
}
