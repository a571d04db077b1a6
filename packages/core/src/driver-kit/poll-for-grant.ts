import { Backoff, sleep } from '../sleep.js'

/** One try of a polling wait: the lease, or null with what the backend said of the holder. */
export type PollAttempt<L> =
  | { readonly lease: L; readonly holderTtlMs?: undefined }
  | {
      readonly lease: null /** The holder's remaining lease in ms, where the backend reports it. */
      readonly holderTtlMs?: number
    }

/** Options of `pollForGrant`. */
export interface PollOptions<L> {
  /** One non-blocking try. */
  readonly attempt: () => Promise<PollAttempt<L>>
  /** How long to keep trying, in ms (0: one try; Infinity: until aborted). */
  readonly waitMs: number
  /** Stops the loop (the request's signal, combined with the driver's closing signal). */
  readonly signal: AbortSignal
  /** Shortest and longest pause between tries, in ms. Defaults 1 and 100. */
  readonly minMs?: number
  readonly maxMs?: number
  /** Sleeps up to `ms`, or less when woken (e.g. by a release in this process); default a plain sleep. */
  readonly pause?: (ms: number, signal: AbortSignal) => Promise<unknown>
}

/**
 * The wait of a backend with no push mechanism: tries, then sleeps with jittered
 * exponential backoff, never past the deadline nor past the holder's reported remaining
 * lease (DESIGN section 3), until granted, out of time or aborted (null).
 */
export async function pollForGrant<L>(options: PollOptions<L>): Promise<L | null> {
  const { attempt, signal } = options
  const deadlineMs = performance.now() + options.waitMs
  const backoff = new Backoff({ minMs: options.minMs ?? 1, maxMs: options.maxMs ?? 100 })
  const pause = options.pause ?? sleep
  for (;;) {
    if (signal.aborted) return null
    const result = await attempt()
    if (result.lease !== null) return result.lease
    const leftMs = deadlineMs - performance.now()
    if (leftMs <= 0 || signal.aborted) return null
    const capMs = result.holderTtlMs === undefined ? leftMs : Math.max(1, result.holderTtlMs)
    await pause(Math.min(backoff.next(capMs), leftMs), signal)
  }
}
