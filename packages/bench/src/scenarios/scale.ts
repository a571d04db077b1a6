import type { BackendTarget } from '../lock-client.js'
import type { Sample } from '../results.js'
import { endWorker, forkWorker, isHello, nextMessage } from '../worker-process.js'
import { isScaleDone, type ScaleStart } from './scale-protocol.js'

/** Size of the scale run. */
export interface ScaleOptions {
  readonly keys: number
  readonly ttlMs: number
  readonly intervals: number
  readonly concurrency: number
}

/**
 * One process (forked with --expose-gc, so each run has a fresh heap) acquires `keys`
 * locks through one Locker, holds them for `intervals` renewal intervals and releases them.
 */
export async function runScale(
  backend: string,
  target: BackendTarget,
  options: ScaleOptions,
): Promise<Sample[]> {
  const child = forkWorker('scenarios/scale-worker', ['--expose-gc'])
  try {
    await nextMessage(child, isHello, 60_000)
    const start: ScaleStart = { type: 'start', backend, url: target.url, ...options }
    const holdMs = (options.intervals * options.ttlMs) / 3
    // Bounded: acquisition and release get 20 ms per key at worst, plus the hold.
    const done = nextMessage(child, isScaleDone, 60_000 + holdMs + options.keys * 20)
    child.send(start)
    const d = await done
    const base = {
      scenario: 'scale',
      backend,
      contender: 'Baton: Locker.acquire',
      role: 'baton' as const,
      group: `scale/${backend}`,
    }
    const n = options.keys.toLocaleString('en-US')
    const figures: Array<[string, string, number]> = [
      [`acquire ${n} locks`, 'ms', d.acquireAllMs],
      [`release ${n} locks`, 'ms', d.releaseAllMs],
      ['heap per held lock', 'bytes', d.bytesPerLock],
      ['renewal round trips per interval', 'count', d.roundTripsPerInterval],
      ['driver renew calls per interval', 'count', d.driverCallsPerInterval],
      ['leases renewed per interval', 'count', d.leasesRenewedPerInterval],
      ['server sessions while holding', 'count', d.sessions],
      ['locks lost during hold', 'count', d.lost],
      ['locks suspended at end of hold', 'count', d.suspended],
      ['longest event-loop stall', 'ms', d.maxLoopDelayMs],
    ]
    for (const [reason, count] of Object.entries(d.lostBy))
      figures.push([`locks lost, reason ${reason}`, 'count', count])
    return figures
      .filter(([, , v]) => !Number.isNaN(v))
      .map(([metric, unit, value]) => ({ ...base, metric, unit, value }))
  } finally {
    await endWorker(child, 10_000)
  }
}
