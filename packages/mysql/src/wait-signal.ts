/**
 * The stop signal of one waiting acquire: aborts as soon as one of its sources does (the
 * caller's signal, the driver's closing signal), or after `timeoutMs`. It replaces
 * `AbortSignal.any([...sources, AbortSignal.timeout(ms)])`, which costs a timeout signal,
 * a dependent-signal record on every source (the driver's closing signal lives as long as
 * the driver and collects one per wait) and a timer that is never cleared: here one
 * listener per source and one timer, removed again by `dispose`.
 */
export class WaitSignal {
  readonly #controller = new AbortController()
  readonly #sources: readonly AbortSignal[]
  readonly #onAbort = (event: Event) => this.#abort((event.target as AbortSignal).reason)
  #timer: NodeJS.Timeout | undefined

  /** `timeoutMs` undefined: no timer (the caller's own deadline is beyond setTimeout's range). */
  constructor(sources: readonly AbortSignal[], timeoutMs: number | undefined) {
    this.#sources = sources
    for (const source of sources) {
      if (source.aborted) {
        this.#controller.abort(source.reason)
        return
      }
    }
    for (const source of sources) source.addEventListener('abort', this.#onAbort)
    if (timeoutMs !== undefined) {
      this.#timer = setTimeout(
        () => this.#abort(new DOMException('the wait timed out', 'TimeoutError')),
        timeoutMs,
      )
      this.#timer.unref()
    }
  }

  get signal(): AbortSignal {
    return this.#controller.signal
  }

  /** Stops following the sources and clears the timer; the signal keeps its state. */
  dispose(): void {
    clearTimeout(this.#timer)
    for (const source of this.#sources) source.removeEventListener('abort', this.#onAbort)
  }

  #abort(reason: unknown): void {
    this.dispose()
    this.#controller.abort(reason)
  }
}
