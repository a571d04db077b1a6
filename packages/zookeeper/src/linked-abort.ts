import { ABORTED } from '@baton-lock/core/driver'

/**
 * Settles like `work`, or resolves `ABORTED` as soon as `a` or `b` aborts: core's
 * `untilAborted` for two signals, without a linked controller (the uncontended acquire
 * pays two listeners, not an AbortController and four). `work` keeps running.
 */
export function untilEitherAborted<T>(
  work: Promise<T>,
  a: AbortSignal,
  b: AbortSignal,
): Promise<T | typeof ABORTED> {
  if (a.aborted || b.aborted) return Promise.resolve(ABORTED)
  return new Promise((resolve, reject) => {
    const stop = () => {
      a.removeEventListener('abort', onAbort)
      b.removeEventListener('abort', onAbort)
    }
    const onAbort = () => {
      stop()
      resolve(ABORTED)
    }
    a.addEventListener('abort', onAbort)
    b.addEventListener('abort', onAbort)
    work.then(
      (value) => {
        stop()
        resolve(value)
      },
      (err: unknown) => {
        stop()
        reject(err)
      },
    )
  })
}

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
