import type { Locker } from '@baton-lock/core'

/** One holder's validity window, on this process's monotonic clock. */
export interface Window {
  readonly worker: number
  readonly fence: bigint
  readonly startMs: number
  /** When the holder stopped counting on the lock: its release, or the lost signal / validity end. */
  readonly endMs: number
  /** Latest validity end the holder saw while valid. */
  readonly validUntilMs: number
  /** When the lost signal aborted, if it did. */
  readonly lostAtMs: number | undefined
}

export interface WorkloadResult {
  readonly windows: Window[]
  readonly errors: number
}

/**
 * `lockers.length` workers acquire `key` in a loop (hold `holdMs`, release) until `stop()`
 * says so; each grant becomes a window. Errors (a cluster mid-election) are counted and
 * retried after a short pause: a bounded loop, since every acquire waits at most `waitMs`.
 */
export async function runWorkers(options: {
  readonly lockers: readonly Locker[]
  readonly key: string
  readonly ttlMs: number
  readonly holdMs: number
  readonly waitMs: number
  readonly stop: () => boolean
}): Promise<WorkloadResult> {
  const windows: Window[] = []
  let errors = 0
  await Promise.all(
    options.lockers.map(async (locker, worker) => {
      while (!options.stop()) {
        try {
          const handle = await locker.acquire(options.key, {
            ttlMs: options.ttlMs,
            waitMs: options.waitMs,
          })
          const startMs = performance.now()
          let validUntilMs = startMs + handle.validForMs()
          let lostAtMs: number | undefined
          handle.signal.addEventListener('abort', () => {
            lostAtMs = performance.now()
          })
          await new Promise((r) => setTimeout(r, options.holdMs))
          const nowMs = performance.now()
          const valid = handle.isValid()
          if (valid) validUntilMs = Math.max(validUntilMs, nowMs + handle.validForMs())
          const endMs = valid ? nowMs : Math.min(lostAtMs ?? nowMs, nowMs)
          windows.push({ worker, fence: handle.fence, startMs, endMs, validUntilMs, lostAtMs })
          await handle.release().catch(() => {
            errors++
          })
        } catch {
          errors++
          await new Promise((r) => setTimeout(r, 50))
        }
      }
    }),
  )
  windows.sort((a, b) => a.startMs - b.startMs)
  return { windows, errors }
}

/** Pairs of windows that overlap (S1) and fences out of grant order (S3); both must be empty. */
export function violations(windows: readonly Window[]): {
  overlaps: string[]
  fenceOrder: string[]
} {
  const overlaps: string[] = []
  const fenceOrder: string[] = []
  for (let i = 1; i < windows.length; i++) {
    const prev = windows[i - 1] as Window
    const cur = windows[i] as Window
    // Every earlier window must have ended before this one began, not only the previous one.
    for (let j = i - 1; j >= 0; j--) {
      const earlier = windows[j] as Window
      if (earlier.endMs > cur.startMs) {
        overlaps.push(
          `fence ${earlier.fence} [${earlier.startMs.toFixed(1)}, ${earlier.endMs.toFixed(1)}] overlaps fence ${cur.fence} from ${cur.startMs.toFixed(1)}`,
        )
      }
    }
    if (cur.fence <= prev.fence) fenceOrder.push(`fence ${cur.fence} granted after ${prev.fence}`)
  }
  return { overlaps, fenceOrder }
}

/** How late each lost signal came after the holder's validity end, in ms (N1: never meaningfully > 0). */
export function lostLatenessMs(windows: readonly Window[]): number[] {
  return windows
    .filter((w) => w.lostAtMs !== undefined)
    .map((w) => (w.lostAtMs as number) - w.validUntilMs)
}

/** The first grant at or after `atMs`, and the longest gap between consecutive grants. */
export function recovery(
  windows: readonly Window[],
  atMs: number,
): { firstGrantMs: number; maxGapMs: number } {
  const first = windows.find((w) => w.startMs >= atMs)
  let maxGapMs = 0
  for (let i = 1; i < windows.length; i++) {
    maxGapMs = Math.max(maxGapMs, (windows[i] as Window).startMs - (windows[i - 1] as Window).endMs)
  }
  return {
    firstGrantMs: first === undefined ? Number.POSITIVE_INFINITY : first.startMs - atMs,
    maxGapMs,
  }
}
