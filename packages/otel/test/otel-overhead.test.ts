import { Locker, MemoryDriver } from '@baton-lock/core'
import { metrics, trace } from '@opentelemetry/api'
import { expect, it } from 'vitest'
import { formatOverhead, measureOverhead } from '../bench/otel-overhead.js'
import { LockTelemetry } from '../src/index.js'

// The goal (under 2 µs added per acquire+release with no SDK) is a benchmark figure:
// `pnpm --filter @baton-lock/otel bench` prints it. Here a short run prints the figures and
// asserts only a bound no healthy run misses, even on a loaded shared machine.
it('instrumentation on the no-op providers adds little to an acquire+release', async () => {
  expect(trace.getTracerProvider().getTracer('x').startSpan('x').isRecording()).toBe(false)
  expect(metrics.getMeterProvider().constructor.name).toBe('NoopMeterProvider')
  const figures = await measureOverhead(5_000, 5)
  console.log(formatOverhead(figures))
  expect(figures.instrumentedNs - figures.plainNs).toBeLessThan(50_000)
  expect(figures.activeNoopNs - figures.plainNs).toBeLessThan(100_000)
})

it('with no SDK registered a LockTelemetry is inert: nothing wrapped, no listener of its own', async () => {
  const mine = () => undefined
  expect(new LockTelemetry().onEvent).toBeUndefined()
  const telemetry = new LockTelemetry({ onEvent: mine })
  expect(telemetry.active).toBe(false)
  expect(telemetry.onEvent).toBe(mine)
  const locker = telemetry.instrument(
    new Locker(new MemoryDriver(), { onEvent: telemetry.onEvent }),
  )
  expect(locker.acquire).toBe(Locker.prototype.acquire)
  expect(locker.tryAcquire).toBe(Locker.prototype.tryAcquire)
  expect(locker.acquireAll).toBe(Locker.prototype.acquireAll)
  expect(locker.semaphore).toBe(Locker.prototype.semaphore)
  expect(locker.election).toBe(Locker.prototype.election)
  await (await locker.acquire('k')).release()
  expect(() => telemetry.instrument(locker)).toThrow(TypeError)
  await locker.close()
})
