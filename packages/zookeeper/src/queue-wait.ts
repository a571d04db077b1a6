import { LinkedAbort } from '@baton-lock/core/driver'
import type { Turn } from './curator-lock.js'
import type { ZkSession } from './zk-session.js'

/** The longest delay setTimeout takes (2^31 - 1 ms); a longer one fires at once. */
const MAX_TIMER_MS = 2_147_483_647

/**
 * One acquire's waiting budget: looks until granted, the deadline passes, the caller
 * aborts, the driver closes or the session ends. The stop signal and its timer are made at
 * the first wait only, so an uncontended acquire pays for none of it; `dispose` clears them.
 */
export class QueueWait {
  readonly #session: ZkSession
  readonly #deadlineMs: number
  readonly #signal: AbortSignal
  readonly #closing: AbortSignal
  readonly #onContended: (() => void) | undefined
  #stop: LinkedAbort | undefined
  #timer: NodeJS.Timeout | undefined

  constructor(
    session: ZkSession,
    deadlineMs: number,
    signal: AbortSignal,
    closing: AbortSignal,
    onContended: (() => void) | undefined,
  ) {
    this.#session = session
    this.#deadlineMs = deadlineMs
    this.#signal = signal
    this.#closing = closing
    this.#onContended = onContended
  }

  /**
   * Calls `look` until it grants (starting from `first` when the caller looked already);
   * returns its `sentAtMs`, or null when time ran out or the caller aborted. Throws when
   * the session ended. Each round waits for a watch, so the number of rounds is bounded by
   * the changes the server reports.
   */
  async until(look: () => Promise<Turn>, first?: Turn): Promise<number | null> {
    for (let next = first; ; next = undefined) {
      const turn = next ?? (await look())
      if (turn.granted) return turn.sentAtMs
      this.#onContended?.()
      const leftMs = this.#deadlineMs - performance.now()
      if (!(leftMs > 0) || this.#signal.aborted || this.#closing.aborted) return null
      if (!(await turn.wait(this.#stopSignal(leftMs)))) {
        if (this.#session.ended.aborted) throw this.#session.ended.reason
        return null
      }
    }
  }

  /** Stops following the signals and clears the deadline timer. */
  dispose(): void {
    clearTimeout(this.#timer)
    this.#stop?.dispose()
  }

  #stopSignal(leftMs: number): AbortSignal {
    if (this.#stop === undefined) {
      const stop = new LinkedAbort(this.#signal, this.#closing, this.#session.ended)
      this.#stop = stop
      // beyond setTimeout's range core's own deadline (waitMs) aborts `signal`
      if (leftMs <= MAX_TIMER_MS) this.#timer = setTimeout(() => stop.abort(), leftMs)
    }
    return this.#stop.signal
  }
}
