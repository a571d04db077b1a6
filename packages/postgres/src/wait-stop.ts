import type { AcquireRequest } from '@baton-lock/core/driver'

/**
 * What ends one wait of the driver early: its request's abort (core's deadline, the
 * caller's abort) or the driver's close. The parts of a wait learn of it through plain
 * callbacks, not AbortSignal listeners: a server-side wait used to add and remove four
 * (a linked signal on the request's signal and the driver's closing signal, then the
 * cancel and the answer-at-once on the linked one), and removing them ran on the
 * hand-off's critical path, between the server's grant and the caller's handle; reading
 * `req.signal` at all made core build it. Now the request's `onAbort` (a listener on
 * `req.signal` for a request without one), and the driver's close reaches the live waits
 * through the set it passes in (one listener for all of them). A signal is made only for
 * the parts that need one (opening a session, polling, a semaphore's wait).
 */
export class WaitStop {
  readonly #live: Set<WaitStop>
  #unfollow: (() => void) | undefined
  #callbacks: Array<(reason: unknown) => void> | undefined
  #controller: AbortController | undefined
  #stopped = false
  #reason: unknown

  /** Follows `req`'s abort and joins `live` (the driver stops every member when it closes) until `dispose`. */
  constructor(req: AcquireRequest, live: Set<WaitStop>, closing: AbortSignal) {
    this.#live = live
    if (closing.aborted) {
      this.#end(closing.reason)
      return
    }
    live.add(this)
    const stop = (reason: unknown) => this.stop(reason)
    if (req.onAbort !== undefined) {
      this.#unfollow = req.onAbort(stop)
      return
    }
    const signal = req.signal
    if (signal.aborted) {
      this.stop(signal.reason)
      return
    }
    const onAbort = () => stop(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    this.#unfollow = () => signal.removeEventListener('abort', onAbort)
  }

  get stopped(): boolean {
    return this.#stopped
  }

  /** Runs `callback` when the wait stops (at once when it has), unless `dispose` comes first. */
  onStop(callback: (reason: unknown) => void): void {
    if (this.#stopped) {
      callback(this.#reason)
      return
    }
    this.#callbacks ??= []
    this.#callbacks.push(callback)
  }

  /** An AbortSignal that aborts when the wait stops; made on first read. */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController()
      if (this.#stopped) this.#controller.abort(this.#reason)
    }
    return this.#controller.signal
  }

  /** Stops the wait with `reason` (the first one wins); runs the callbacks. */
  stop(reason: unknown): void {
    if (this.#stopped) return
    const callbacks = this.#callbacks
    this.dispose()
    this.#end(reason)
    if (callbacks !== undefined) for (const callback of callbacks) callback(reason)
  }

  /** Stops following the request and the driver's close; no callback runs after this. */
  dispose(): void {
    this.#callbacks = undefined
    this.#live.delete(this)
    const unfollow = this.#unfollow
    this.#unfollow = undefined
    unfollow?.()
  }

  #end(reason: unknown): void {
    this.#stopped = true
    this.#reason = reason
    this.#controller?.abort(reason)
  }
}
