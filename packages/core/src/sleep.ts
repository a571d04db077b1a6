/**
 * Resolves after `ms`, or early (without throwing) when `signal` aborts. Returns true
 * when the full time elapsed. The timer does not keep the process alive.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false)
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(timer)
      resolve(false)
    }
    const timer = setTimeout(
      () => {
        signal?.removeEventListener('abort', onAbort)
        resolve(true)
      },
      Math.max(0, ms),
    )
    timer.unref()
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

/** Options of a `Backoff`: delays grow from `minMs` by `factor` up to `maxMs`, with full jitter above half. */
export interface BackoffOptions {
  readonly minMs?: number
  readonly maxMs?: number
  readonly factor?: number
}

/**
 * Bounded exponential backoff for backends with no push mechanism. `next(capMs)` gives
 * the next delay, never above `capMs` (e.g. the holder's remaining TTL), so a polling
 * wait is bounded by the holder's lease where the backend reports it.
 */
export class Backoff {
  readonly #minMs: number
  readonly #maxMs: number
  readonly #factor: number
  #currentMs: number

  constructor(options: BackoffOptions = {}) {
    this.#minMs = options.minMs ?? 2
    this.#maxMs = options.maxMs ?? 100
    this.#factor = options.factor ?? 2
    this.#currentMs = this.#minMs
  }

  /** The next delay in ms, jittered in [current/2, current], at most `capMs`. */
  next(capMs = Number.POSITIVE_INFINITY): number {
    const base = this.#currentMs
    this.#currentMs = Math.min(this.#maxMs, this.#currentMs * this.#factor)
    const jittered = base / 2 + (base / 2) * randomUnit()
    return Math.max(0, Math.min(jittered, capMs))
  }

  /** Starts again from `minMs` (after progress, e.g. a release was seen). */
  reset(): void {
    this.#currentMs = this.#minMs
  }
}

const buf = new Uint32Array(1)
function randomUnit(): number {
  crypto.getRandomValues(buf)
  return (buf[0] ?? 0) / 0x1_0000_0000
}
