import { monitorEventLoopDelay } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import type { LockHandle } from '@baton-lock/core'
import { backendNamed } from '../backends.js'
import { countingDriver } from './counting-driver.js'
import type { ScaleDone, ScaleStart } from './scale-protocol.js'

// One process takes `keys` locks through one Locker, holds them for a few renewal
// intervals and releases them. Run with --expose-gc, so heap figures are after collection.

const send = (message: unknown) =>
  new Promise<void>((resolve, reject) =>
    process.send?.(message, undefined, {}, (e) => (e ? reject(e) : resolve())),
  )

function heapAfterGc(): number {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc === undefined) throw new Error('scale worker needs --expose-gc')
  gc()
  gc()
  return process.memoryUsage().heapUsed
}

async function inBatches<T>(
  count: number,
  concurrency: number,
  task: (i: number) => Promise<T>,
): Promise<T[]> {
  const out: T[] = new Array(count)
  let next = 0
  const lane = async () => {
    while (next < count) {
      const i = next++
      out[i] = await task(i)
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane))
  return out
}

async function run(start: ScaleStart): Promise<ScaleDone> {
  const spec = backendNamed(start.backend)
  const probe = spec.probe === undefined ? undefined : await spec.probe({ url: start.url })
  const { Locker } = await import('@baton-lock/core')
  const { driver, counts } = countingDriver(
    await spec.createDriver(probe?.target ?? { url: start.url }),
  )
  const lostBy: Record<string, number> = {}
  const locker = new Locker(driver, {
    ttlMs: start.ttlMs,
    namespace: 'bench-scale',
    onEvent: (event) => {
      if (event.type !== 'lost') return
      const reason = String((event.error as { reason?: unknown }).reason ?? 'unknown')
      lostBy[reason] = (lostBy[reason] ?? 0) + 1
    },
  })
  try {
    const heapBefore = heapAfterGc()
    // Renewal timers only run when the event loop gets a turn: a driver that completes
    // synchronously can starve them while thousands of acquisitions chain as microtasks.
    const loopDelay = monitorEventLoopDelay({ resolution: 10 })
    loopDelay.enable()
    const t0 = performance.now()
    const handles: LockHandle[] = await inBatches(start.keys, start.concurrency, (i) =>
      locker.acquire(`key-${i}`, { waitMs: 30_000 }),
    )
    const acquireAllMs = performance.now() - t0
    const bytesPerLock = (heapAfterGc() - heapBefore) / start.keys

    const rt0 = probe === undefined ? Number.NaN : await probe.roundTrips()
    const calls0 = counts.renewCalls + counts.renewManyCalls
    const leases0 = counts.leasesRenewed
    await sleep((start.intervals * start.ttlMs) / 3)
    const rt1 = probe === undefined ? Number.NaN : await probe.roundTrips()
    const sessions = probe === undefined ? Number.NaN : await probe.sessions()
    const calls1 = counts.renewCalls + counts.renewManyCalls
    const leases1 = counts.leasesRenewed
    loopDelay.disable()
    const lost = handles.filter((h) => h.state === 'lost').length
    const suspended = handles.filter((h) => h.state === 'suspended').length

    const t1 = performance.now()
    await inBatches(handles.length, start.concurrency, (i) => (handles[i] as LockHandle).release())
    const releaseAllMs = performance.now() - t1
    return {
      type: 'done',
      acquireAllMs,
      releaseAllMs,
      bytesPerLock,
      roundTripsPerInterval: (rt1 - rt0) / start.intervals,
      driverCallsPerInterval: (calls1 - calls0) / start.intervals,
      leasesRenewedPerInterval: (leases1 - leases0) / start.intervals,
      sessions,
      lost,
      suspended,
      maxLoopDelayMs: loopDelay.max / 1e6,
      lostBy,
    }
  } finally {
    await locker.close()
    await probe?.close()
  }
}

process.once('message', (start: ScaleStart) => {
  run(start).then(
    async (done) => {
      await send(done)
      process.disconnect?.()
    },
    async (err: unknown) => {
      await send({
        type: 'failed',
        error: err instanceof Error ? (err.stack ?? err.message) : String(err),
      }).catch(() => {})
      process.exitCode = 1
      process.disconnect?.()
    },
  )
})
send({ type: 'hello' }).catch(() => process.exit(1))
