/**
 * An AbortController that aborts as soon as any of its sources does, until `dispose`.
 * The acquire path uses it instead of `AbortSignal.any`, which keeps bookkeeping for every
 * dependent signal on its long-lived sources (the driver's closing signal, a session's
 * end) and showed in profiles of the handoff: here one listener per source, removed again.
 */
export class LinkedAbort {
  readonly #controller = new AbortController()
  readonly #sources: readonly AbortSignal[]
  readonly #onAbort = (event: Event) => this.abort((event.target as AbortSignal).reason)

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

  /** Aborts now (a deadline, for one); removes the listeners. */
  abort(reason?: unknown): void {
    this.dispose()
    this.#controller.abort(reason)
  }

  /** Stops following the sources; the signal keeps its state. */
  dispose(): void {
    for (const source of this.#sources) source.removeEventListener('abort', this.#onAbort)
  }
}
