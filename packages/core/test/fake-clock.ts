import type { Clock, TimerHandle } from '../src/clock.js'

interface FakeTimer {
  readonly id: number
  readonly atMs: number
  readonly fn: () => void
}

/** Flushes pending promise callbacks (several rounds of microtasks and one macrotask turn). */
export async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => setImmediate(resolve))
}

/**
 * Deterministic time for tests: `now()` moves only through `advance`/`advanceTo`, which run
 * due timers in time order and let promise callbacks settle after each one.
 */
export class FakeClock implements Clock {
  #nowMs: number
  #nextId = 1
  readonly #timers = new Map<number, FakeTimer>()

  constructor(startMs = 1_000) {
    this.#nowMs = startMs
  }

  now(): number {
    return this.#nowMs
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = this.#nextId++
    this.#timers.set(id, { id, atMs: this.#nowMs + Math.max(0, ms), fn })
    return id
  }

  clearTimeout(handle: TimerHandle): void {
    this.#timers.delete(handle as number)
  }

  /** Timers scheduled and not yet run or cleared. */
  get pendingTimers(): number {
    return this.#timers.size
  }

  /** Sets the time without running any timer: what a check-at-use sees when no timer ran (S7). */
  jumpTo(targetMs: number): void {
    this.#nowMs = Math.max(this.#nowMs, targetMs)
  }

  /** Moves time forward by `ms`, running every timer due on the way. */
  advance(ms: number): Promise<void> {
    return this.advanceTo(this.#nowMs + ms)
  }

  /** Moves time to `targetMs`, running every timer due on the way, in order. */
  async advanceTo(targetMs: number): Promise<void> {
    await settle()
    for (;;) {
      let next: FakeTimer | undefined
      for (const timer of this.#timers.values()) {
        if (timer.atMs <= targetMs && (next === undefined || timer.atMs < next.atMs)) next = timer
      }
      if (next === undefined) break
      this.#timers.delete(next.id)
      this.#nowMs = Math.max(this.#nowMs, next.atMs)
      next.fn()
      await settle()
    }
    this.#nowMs = Math.max(this.#nowMs, targetMs)
    await settle()
  }
}

/** A view of a clock that counts the timers set through it and still pending. */
export class CountingClock implements Clock {
  readonly #inner: Clock
  readonly #pending = new Set<TimerHandle>()

  constructor(inner: Clock) {
    this.#inner = inner
  }

  now(): number {
    return this.#inner.now()
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const handle = this.#inner.setTimeout(() => {
      this.#pending.delete(handle)
      fn()
    }, ms)
    this.#pending.add(handle)
    return handle
  }

  clearTimeout(handle: TimerHandle): void {
    this.#pending.delete(handle)
    this.#inner.clearTimeout(handle)
  }

  /** Timers set through this view and neither run nor cleared. */
  get pendingTimers(): number {
    return this.#pending.size
  }
}
