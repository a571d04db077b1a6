import { ABORTED } from '@baton-lock/core/driver'

/**
 * Races a driver's acquires against each caller's signal and the driver's closing signal,
 * without a linked controller per acquire: closing is followed by one listener for all of
 * them (a Set entry per acquire), so an uncontended acquire adds and removes one
 * EventTarget listener (on its own signal), not two.
 */
export class AcquireRace {
  readonly #closing: AbortSignal
  readonly #running = new Set<() => void>()

  constructor(closing: AbortSignal) {
    this.#closing = closing
    closing.addEventListener(
      'abort',
      () => {
        for (const stop of this.#running) stop()
      },
      { once: true },
    )
  }

  /**
   * Settles like `work`, or resolves `ABORTED` as soon as `signal` or the closing signal
   * aborts (core's `untilAborted` for two signals). `work` keeps running.
   */
  race<T>(work: Promise<T>, signal: AbortSignal): Promise<T | typeof ABORTED> {
    if (signal.aborted || this.#closing.aborted) return Promise.resolve(ABORTED)
    return new Promise((resolve, reject) => {
      const stop = () => {
        signal.removeEventListener('abort', onAbort)
        this.#running.delete(onAbort)
      }
      const onAbort = () => {
        stop()
        resolve(ABORTED)
      }
      signal.addEventListener('abort', onAbort)
      this.#running.add(onAbort)
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
}
