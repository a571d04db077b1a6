import { Locker, type LockerOptions, MemoryDriver } from '@baton-lock/core'
import { MemoryStore } from '@baton-lock/core/driver'
import { context } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import {
  type DataPoint,
  type Histogram,
  MeterProvider,
  type MetricData,
  MetricReader,
} from '@opentelemetry/sdk-metrics'
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base'
import { LockTelemetry, type LockTelemetryOptions } from '../src/index.js'

/** A pull reader: the test collects when it wants to look. */
class ManualReader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

/** The real SDK, in memory: spans exported on end, metrics collected on demand. */
export class Sdk {
  readonly spans = new InMemorySpanExporter()
  readonly tracerProvider = new BasicTracerProvider({
    spanProcessors: [new SimpleSpanProcessor(this.spans)],
  })
  readonly reader = new ManualReader()
  readonly meterProvider = new MeterProvider({ readers: [this.reader] })

  /** Registers the AsyncLocalStorage context manager, as every Node SDK setup does. */
  static useAsyncContext(): () => void {
    const manager = new AsyncLocalStorageContextManager().enable()
    context.setGlobalContextManager(manager)
    return () => {
      manager.disable()
      context.disable()
    }
  }

  finished(name?: string): ReadableSpan[] {
    const all = this.spans.getFinishedSpans()
    return name === undefined ? all : all.filter((span) => span.name === name)
  }

  async metric(name: string): Promise<MetricData | undefined> {
    const { resourceMetrics } = await this.reader.collect()
    for (const scope of resourceMetrics.scopeMetrics) {
      const found = scope.metrics.find((m) => m.descriptor.name === name)
      if (found !== undefined) return found
    }
    return undefined
  }

  /** Points of a metric whose attributes include `match`. */
  async points(name: string, match: Record<string, unknown> = {}): Promise<DataPoint<unknown>[]> {
    const data = await this.metric(name)
    if (data === undefined) return []
    return (data.dataPoints as DataPoint<unknown>[]).filter((point) =>
      Object.entries(match).every(([k, v]) => point.attributes[k] === v),
    )
  }

  async sum(name: string, match: Record<string, unknown> = {}): Promise<number> {
    const points = await this.points(name, match)
    return points.reduce((total, point) => total + (point.value as number), 0)
  }

  async histogramCount(name: string, match: Record<string, unknown> = {}): Promise<number> {
    const points = await this.points(name, match)
    return points.reduce((total, point) => total + (point.value as Histogram).count, 0)
  }

  async shutdown(): Promise<void> {
    await this.tracerProvider.shutdown()
    await this.meterProvider.shutdown()
  }
}

/** A Locker on a MemoryDriver, with this SDK's telemetry wired both ways. */
export function instrumentedLocker(
  sdk: Sdk,
  options: Omit<LockTelemetryOptions, 'tracerProvider' | 'meterProvider'> = {},
  lockerOptions: LockerOptions = {},
): { locker: Locker; driver: MemoryDriver; store: MemoryStore; telemetry: LockTelemetry } {
  const store = new MemoryStore()
  const driver = new MemoryDriver({ store })
  const telemetry = new LockTelemetry({
    ...options,
    tracerProvider: sdk.tracerProvider,
    meterProvider: sdk.meterProvider,
  })
  const locker = telemetry.instrument(
    new Locker(driver, { ...lockerOptions, onEvent: telemetry.onEvent }),
  )
  return { locker, driver, store, telemetry }
}

/** Polls `condition` every 5 ms until true, failing after `timeoutMs`. */
export async function until(
  condition: () => boolean,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = performance.now() + timeoutMs
  while (!condition()) {
    if (performance.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}
