/** Opaque timer handle from a `Clock`. */
export type TimerHandle = unknown

/**
 * Time source for every validity decision: a monotonic clock and timers. Injected so
 * that timing logic can be tested with fake time; the default is the system's.
 */
export interface Clock {
  /** Monotonic milliseconds (`performance.now()`); never `Date.now()`. */
  now(): number
  /** Runs `fn` after `ms`; the timer must not keep the process alive (unref). */
  setTimeout(fn: () => void, ms: number): TimerHandle
  /** Cancels a timer from `setTimeout`; ignores handles already run or cleared. */
  clearTimeout(handle: TimerHandle): void
}

/** The system clock: `performance.now()` and unref'd Node timers. */
export const systemClock: Clock = Object.freeze({
  now: () => performance.now(),
  setTimeout(fn: () => void, ms: number): TimerHandle {
    const t = setTimeout(fn, Math.max(0, ms))
    t.unref()
    return t
  },
  clearTimeout(handle: TimerHandle): void {
    clearTimeout(handle as NodeJS.Timeout)
  },
})
