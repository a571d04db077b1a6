import { LockClosedError } from '../errors.js'
import { sleep } from '../sleep.js'

/** How long `close` waits, by default, for tracked work before it shuts down anyway. */
const DEFAULT_CLOSE_GRACE_MS = 2_000

/**
 * A driver's open/closing/closed state: one closing signal for every wait the driver
 * runs, tracked background work (late-grant clean-ups, server-side cancels) that close
 * lets finish within a grace period, one closed error, and a `close` that runs once.
 */
export class DriverLifecycle {
  readonly #name: string
  readonly #closing = new AbortController()
  readonly #work = new Set<Promise<unknown>>()
  /** Calls between `busy()` and `idle()`; close waits for them like tracked work. */
  #busy = 0
  #onIdle: (() => void) | undefined
  #closed: Promise<void> | undefined

  /** `name` is the driver's name, used in the closed error. */
  constructor(name: string) {
    this.#name = name
  }

  /** Aborted when `close` starts; pass it (with the request's signal) to every wait. */
  get signal(): AbortSignal {
    return this.#closing.signal
  }

  /** True from the start of `close` on. */
  get closing(): boolean {
    return this.#closing.signal.aborted
  }

  /** Throws `LockClosedError` once `close` has started. */
  assertOpen(): void {
    if (this.closing) throw this.closedError()
  }

  /** The error a closed driver's calls fail with. */
  closedError(): LockClosedError {
    return new LockClosedError(undefined, `${this.#name} driver is closed`)
  }

  /**
   * Runs `work` in the background: never rejects, and `close` waits for it (up to its
   * grace period) before shutting down. For clean-ups the caller does not await.
   */
  track(work: Promise<unknown>): void {
    const tracked: Promise<unknown> = work
      .catch(() => {})
      .finally(() => {
        this.#work.delete(tracked)
      })
    this.#work.add(tracked)
  }

  /**
   * Marks one call in flight that `close` waits for (within its grace period), until the
   * matching `idle()`: `track` without a promise, for a driver's hot path (no allocation).
   */
  busy(): void {
    this.#busy += 1
  }

  /** Ends one `busy()`. */
  idle(): void {
    this.#busy -= 1
    if (this.#busy === 0) this.#onIdle?.()
  }

  /**
   * Closes once: aborts `signal`, waits for tracked work for at most `graceMs` (an
   * unreachable server must not hold close up), then runs `shutdown`. Later calls return
   * the same promise.
   */
  close(shutdown: () => Promise<void>, graceMs = DEFAULT_CLOSE_GRACE_MS): Promise<void> {
    this.#closed ??= this.#close(shutdown, graceMs)
    return this.#closed
  }

  async #close(shutdown: () => Promise<void>, graceMs: number): Promise<void> {
    this.#closing.abort(this.closedError())
    if (this.#work.size > 0 || this.#busy > 0) {
      const idle =
        this.#busy === 0
          ? Promise.resolve()
          : new Promise<void>((resolve) => {
              this.#onIdle = resolve
            })
      const grace = new AbortController()
      const work = Promise.allSettled([...this.#work, idle])
      await Promise.race([work, sleep(graceMs, grace.signal)])
      grace.abort()
      this.#onIdle = undefined
    }
    await shutdown()
  }
}
