/** Marker resolved by `untilAborted` when the signal won the race. */
export const ABORTED: unique symbol = Symbol('aborted')

/**
 * Resolves with `work`'s value, or with `ABORTED` as soon as `signal` aborts, so a caller
 * is never held up by a backend that stopped answering (L3). `work` keeps running: the
 * caller must still settle what it does (e.g. release a grant that arrives late, S4).
 */
export function untilAborted<T>(
  work: Promise<T>,
  signal: AbortSignal,
): Promise<T | typeof ABORTED> {
  if (signal.aborted) return Promise.resolve(ABORTED)
  return new Promise((resolve, reject) => {
    const onAbort = () => resolve(ABORTED)
    signal.addEventListener('abort', onAbort, { once: true })
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort)
        resolve(value)
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort)
        reject(err)
      },
    )
  })
}
