/**
 * An AbortController that aborts as soon as any of its sources does, or at a deadline set
 * with `abortAfter`, until `dispose`. A driver's wait uses it instead of
 * `AbortSignal.any([...sources, AbortSignal.timeout(ms)])`, which keeps bookkeeping for
 * every dependent signal on its long-lived sources (the driver's closing signal, a
 * session's end) and a timer that is never cleared: here one listener per source and at
 * most one timer, both removed again.
 */
export class LinkedAbort {
  readonly #controller = new AbortController()
  readonly #sources: readonly AbortSignal[]
  readonly #onAbort = (event: Event) => this.abort((event.target as AbortSignal).reason)
  #timer: NodeJS.Timeout | undefined

  constructor(...sources: AbortSignal[]) {
    this.#sources = sources
    for (const source of sources) {
      if (source.aborted) {
        this.#controller.abort(source.reason)
        return
      }
    }
    for (const source of sources) source.addEventListener('abort', this.#onAbort)
  }

  get signal(): AbortSignal {
    return this.#controller.signal
  }

  /** Aborts with a `TimeoutError` after `ms` (an unref'd timer; replaces an earlier one). */
  abortAfter(ms: number): void {
    if (this.#controller.signal.aborted) return
    clearTimeout(this.#timer)
    this.#timer = setTimeout(
      () => this.abort(new DOMException('the wait timed out', 'TimeoutError')),
      ms,
    )
    this.#timer.unref()
  }

  /** Aborts now (a deadline, for one); removes the listeners and the timer. */
  abort(reason?: unknown): void {
    this.dispose()
    this.#controller.abort(reason)
  }

  /** Stops following the sources and clears the timer; the signal keeps its state. */
  dispose(): void {
    clearTimeout(this.#timer)
    for (const source of this.#sources) source.removeEventListener('abort', this.#onAbort)
  }
}
