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
