import { randomInt } from 'node:crypto'
import type { Locker } from '../../locker.js'
import type { ConformanceCheck } from '../check.js'
import { ensure } from '../conformance-failure.js'

const DRIVERS = 4
const INCREMENTS = 50

interface Window {
  readonly worker: number
  readonly fence: bigint
  readonly startMs: number
  readonly endMs: number
}

/** Random short hold: 0 to 3 ms, sometimes only a microtask or an event-loop turn. */
function hold(): Promise<void> {
  const ms = randomInt(0, 5)
  if (ms === 4) return Promise.resolve()
  if (ms === 0) return new Promise((resolve) => setImmediate(resolve))
  return new Promise((resolve) => setTimeout(resolve, ms))
}

async function worker(
  id: number,
  locker: Locker,
  key: string,
  counter: { value: number },
  windows: Window[],
  waitMs: number,
): Promise<void> {
  for (let i = 0; i < INCREMENTS; i++) {
    const handle = await locker.acquire(key, { waitMs })
    const startMs = performance.now()
    const read = counter.value
    await hold()
    counter.value = read + 1
    const endMs = performance.now()
    windows.push({ worker: id, fence: handle.fence, startMs, endMs })
    await handle.release()
    if (randomInt(0, 3) === 0) await new Promise((resolve) => setImmediate(resolve))
  }
}

/** N drivers x M read-modify-write increments of a plain in-memory counter. */
export const fuzzChecks: readonly ConformanceCheck[] = [
  {
    group: 'contention fuzz',
    id: 'S1-S3',
    name: `S1/S3: ${DRIVERS} drivers x ${INCREMENTS} read-modify-write increments: exact count, no overlapping windows, fences increasing in grant order`,
    timeoutMs: (t) => 120_000 + 10 * t.pollHandoffMs,
    async run(ctx) {
      const lockers = await ctx.lockers(DRIVERS, { ttlMs: ctx.timing.longTtlMs })
      const key = ctx.key()
      const counter = { value: 0 }
      const windows: Window[] = []
      const waitMs = 60_000 + 10 * ctx.timing.pollHandoffMs
      await Promise.all(lockers.map((l, i) => worker(i, l, key, counter, windows, waitMs)))
      const total = DRIVERS * INCREMENTS
      windows.sort((x, y) => x.startMs - y.startMs)
      const overlaps: string[] = []
      for (let i = 1; i < windows.length; i++) {
        const prev = windows[i - 1] as Window
        const cur = windows[i] as Window
        if (cur.startMs < prev.endMs)
          overlaps.push(
            `fence ${cur.fence} (driver ${cur.worker}) began inside fence ${prev.fence} (driver ${prev.worker})`,
          )
        if (cur.fence <= prev.fence) overlaps.push(`fence ${cur.fence} granted after ${prev.fence}`)
      }
      ensure(
        counter.value === total,
        `counter is ${counter.value} after ${total} locked increments: ${total - counter.value} lost updates`,
      )
      ensure(windows.length === total, `internal: ${windows.length} windows recorded`)
      ensure(
        overlaps.length === 0,
        `${overlaps.length} ordering violations, e.g. ${overlaps.slice(0, 3).join('; ')}`,
      )
    },
  },
]
