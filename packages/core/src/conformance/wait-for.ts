/** Options of `waitFor`. */
export interface WaitForOptions {
  /** Give up after this long, in ms. */
  readonly timeoutMs: number
  /** Pause between polls, in ms. Default 5. */
  readonly intervalMs?: number
  /** What was awaited, for the failure message. */
  readonly message?: string
}

/**
 * Polls `cond` until it returns a truthy value (returned) or `timeoutMs` passes (throws,
 * naming what was awaited). The kit never sleeps a fixed time and hopes: it polls.
 */
export async function waitFor<T>(
  cond: () => T | Promise<T>,
  options: WaitForOptions,
): Promise<NonNullable<T>> {
  const startMs = performance.now()
  const intervalMs = options.intervalMs ?? 5
  for (;;) {
    const value = await cond()
    if (value) return value as NonNullable<T>
    const elapsedMs = performance.now() - startMs
    if (elapsedMs >= options.timeoutMs) {
      throw new Error(
        `timed out after ${Math.round(elapsedMs)} ms waiting for ${options.message ?? 'a condition'}`,
      )
    }
    await delay(Math.min(intervalMs, options.timeoutMs - elapsedMs))
  }
}

/** Resolves after `ms`. Ref'd on purpose: the kit's own waits keep a CLI run alive. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)))
}

/**
 * Runs `work` and rejects with a message naming `what` unless it settles within `ms`.
 * The timer starts before `work` runs, so work that measures active resources sees it.
 */
export async function withTimeout<T>(work: () => Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms)
  })
  try {
    return await Promise.race([Promise.resolve().then(work), timeout])
  } finally {
    clearTimeout(timer)
  }
}

/** The median of a non-empty list of numbers. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  const hi = sorted[mid] ?? Number.NaN
  return sorted.length % 2 === 1 ? hi : ((sorted[mid - 1] ?? hi) + hi) / 2
}

/** Settles `promise` into a record with the time it settled, so checks can time outcomes. */
export function settleTimed<T>(
  promise: Promise<T>,
): Promise<{ ok: true; value: T; atMs: number } | { ok: false; error: unknown; atMs: number }> {
  return promise.then(
    (value) => ({ ok: true as const, value, atMs: performance.now() }),
    (error: unknown) => ({ ok: false as const, error, atMs: performance.now() }),
  )
}
