import type { Clock, TimerHandle } from './clock.js'
import { type LockError, LockTimeoutError } from './errors.js'

/**
 * One acquire in progress: its deadline, and the reason it stopped early (timeout, caller
 * abort, close). The AbortSignal a driver receives is made on first use: creating and
 * listening to AbortSignals is the main cost of an uncontended acquire on a fast driver,
 * and a driver rarely needs one when the key is free. Core listens through a plain callback.
 */
export class Attempt {
  /** The user's key, for errors and events. */
  readonly key: string
  readonly waitMs: number
  readonly #clock: Clock
  #reason: LockError | undefined
  #controller: AbortController | undefined
  #listener: ((reason: LockError) => void) | undefined
  #timer: TimerHandle | undefined
  /** Cleanups of driver calls given up on; the key slot is kept until they settle. */
  abandoned: Array<Promise<unknown>> | undefined

  constructor(key: string, waitMs: number, clock: Clock) {
    this.key = key
    this.waitMs = waitMs
    this.#clock = clock
  }

  /** Why the attempt stopped, or undefined while it runs. */
  get reason(): LockError | undefined {
    return this.#reason
  }

  /** Aborts with the stop reason; handed to the driver as `AcquireRequest.signal`. */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController()
      if (this.#reason !== undefined) this.#controller.abort(this.#reason)
    }
    return this.#controller.signal
  }

  /** Stops with a `LockTimeoutError` at monotonic time `atMs` (replacing any earlier deadline). */
  setDeadline(atMs: number): void {
    this.clearDeadline()
    if (!Number.isFinite(atMs)) return
    const timeout = () => this.stop(new LockTimeoutError(this.key, this.waitMs))
    this.#timer = this.#clock.setTimeout(timeout, atMs - this.#clock.now())
  }

  clearDeadline(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer)
    this.#timer = undefined
  }

  /** Stops the attempt; the first reason wins. */
  stop(reason: LockError): void {
    if (this.#reason !== undefined) return
    this.#reason = reason
    this.clearDeadline()
    this.#controller?.abort(reason)
    const listener = this.#listener
    this.#listener = undefined
    listener?.(reason)
  }

  /** Settles like `promise`, or rejects with the stop reason as soon as the attempt stops. */
  race<T>(promise: Promise<T>): Promise<T> {
    if (this.#reason !== undefined) return Promise.reject(this.#reason)
    return new Promise<T>((resolve, reject) => {
      this.#listener = reject
      promise.then(
        (value) => {
          this.#listener = undefined
          resolve(value)
        },
        (err: unknown) => {
          this.#listener = undefined
          reject(err)
        },
      )
    })
  }
}
