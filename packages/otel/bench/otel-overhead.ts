/**
 * What instrumentation costs per uncontended acquire+release when no OpenTelemetry SDK is
 * registered (the API's no-op providers), against the same Locker uninstrumented, in one
 * run. Not part of the published API. Run after a build: `pnpm --filter @baton-lock/otel bench`.
 */
import { pathToFileURL } from 'node:url'
import { Locker, type LockerOptions, MemoryDriver } from '@baton-lock/core'
import { LockTelemetry } from '@baton-lock/otel'
import { type MeterProvider, metrics, type TracerProvider, trace } from '@opentelemetry/api'

/** CPU time (user + system) per cycle, in ns: steadier than wall time on a shared machine. */
export interface OverheadFigures {
  /** A Locker without `onEvent`. */
  readonly plainNs: number
  /** A Locker with a no-op `onEvent`: what core itself spends on emitting events. */
  readonly listenedNs: number
  /** Wired both ways to a `LockTelemetry` with no SDK registered: it is inert. */
  readonly instrumentedNs: number
  /**
   * Wired both ways to a `LockTelemetry` forced active on providers that hand out no-op
   * tracers and meters: what the package's own code costs when nothing records.
   */
  readonly activeNoopNs: number
}

type Variant = 'plain' | 'listened' | 'instrumented' | 'activeNoop'
const VARIANTS: readonly Variant[] = ['plain', 'listened', 'instrumented', 'activeNoop']

/** Not the API's own no-op objects, so LockTelemetry cannot tell and stays active. */
const opaqueTracerProvider: TracerProvider = {
  getTracer: (name, version) => trace.getTracer(name, version),
}
const opaqueMeterProvider: MeterProvider = {
  getMeter: (name, version) => metrics.getMeter(name, version),
}

function lockerFor(variant: Variant): Locker {
  const driver = new MemoryDriver()
  if (variant === 'plain') return new Locker(driver)
  if (variant === 'listened') {
    const options: LockerOptions = { onEvent: () => undefined }
    return new Locker(driver, options)
  }
  const telemetry =
    variant === 'instrumented'
      ? new LockTelemetry()
      : new LockTelemetry({
          tracerProvider: opaqueTracerProvider,
          meterProvider: opaqueMeterProvider,
        })
  return telemetry.instrument(new Locker(driver, { onEvent: telemetry.onEvent }))
}

async function cpuNsPerCycle(variant: Variant, cycles: number): Promise<number> {
  const locker = lockerFor(variant)
  // Warm up this Locker's paths before timing.
  for (let i = 0; i < Math.min(cycles, 2_000); i++) await (await locker.acquire('bench')).release()
  const start = process.cpuUsage()
  for (let i = 0; i < cycles; i++) {
    const lock = await locker.acquire('bench')
    await lock.release()
  }
  const cpu = process.cpuUsage(start)
  await locker.close()
  return ((cpu.user + cpu.system) * 1000) / cycles
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] as number
}

/** Runs the variants interleaved `runs` times and returns the median of each. */
export async function measureOverhead(cycles = 50_000, runs = 7): Promise<OverheadFigures> {
  const samples: Record<Variant, number[]> = {
    plain: [],
    listened: [],
    activeNoop: [],
    instrumented: [],
  }
  for (let run = 0; run < runs; run++) {
    // Rotated each run: the variant timed first pays for the previous one's garbage.
    for (let i = 0; i < VARIANTS.length; i++) {
      const variant = VARIANTS[(run + i) % VARIANTS.length] as Variant
      samples[variant].push(await cpuNsPerCycle(variant, cycles))
    }
  }
  return {
    plainNs: median(samples.plain),
    listenedNs: median(samples.listened),
    instrumentedNs: median(samples.instrumented),
    activeNoopNs: median(samples.activeNoop),
  }
}

/** One line per figure, for a terminal or a test log. */
export function formatOverhead(figures: OverheadFigures): string {
  const { plainNs, listenedNs, instrumentedNs, activeNoopNs } = figures
  const us = (ns: number) => `${(ns / 1000).toFixed(2)} µs`
  const vs = (ns: number, base: number) => `${ns >= base ? '+' : ''}${us(ns - base)}`
  return [
    `uninstrumented Locker:            ${us(plainNs)} per acquire+release (CPU time, median)`,
    `instrumented, no SDK (inert):     ${us(instrumentedNs)} (${vs(instrumentedNs, plainNs)} vs uninstrumented, x${(instrumentedNs / plainNs).toFixed(2)})`,
    `core with a no-op onEvent:        ${us(listenedNs)} (${vs(listenedNs, plainNs)} vs uninstrumented: core's event path)`,
    `forced active, no-op providers:   ${us(activeNoopNs)} (${vs(activeNoopNs, plainNs)} vs uninstrumented; ${vs(activeNoopNs, listenedNs)} vs core with a no-op onEvent)`,
  ].join('\n')
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const figures = await measureOverhead()
  console.log(formatOverhead(figures))
}
