import { setMaxListeners } from 'node:events'

/** Share of the TTL after which the pool sends a keepalive (core renews at a third too). */
const KEEPALIVE_FRACTION = 1 / 3

/**
 * One etcd lease that many lock keys of a driver share, with the driver's own view of it:
 * the confirmed deadline is the send time of the last keepalive (or grant) the server
 * answered with a TTL, plus that TTL. The server may keep the lease longer (it refreshes
 * every lease on a leader change), never shorter, so validity ends there at the latest.
 */
export class SharedLease {
  /** Lease id as etcd returns it (decimal int64). */
  readonly id: string
  /** TTL the server granted, in ms (whole seconds, at least the server's minimum). */
  readonly ttlMs: number
  /** The TTL the driver asked for, in whole seconds: the pool's key for this lease. */
  readonly requestedSeconds: number
  /** Monotonic send time of the last confirmed grant or keepalive. */
  confirmedAtMs: number
  /** Keys on this lease: held locks and waiters. */
  users = 0
  /** Waiters among them: the pool keeps the lease alive for them (core renews held locks). */
  waiters = 0
  /** Aborted once the lease is gone, expired unconfirmed, or revoked. */
  readonly #dead = new AbortController()
  /** Monotonic time the last user gave the lease back (the linger counts from there). */
  idleSinceMs = 0
  keepAliveTimer: NodeJS.Timeout | undefined
  deadlineTimer: NodeJS.Timeout | undefined
  lingerTimer: NodeJS.Timeout | undefined
  keepAliveInFlight: Promise<boolean> | undefined

  constructor(id: string, ttlMs: number, requestedSeconds: number, sentAtMs: number) {
    this.id = id
    this.ttlMs = ttlMs
    this.requestedSeconds = requestedSeconds
    this.confirmedAtMs = sentAtMs
    // Every key and waiter on the lease listens here: many listeners are expected.
    setMaxListeners(0, this.#dead.signal)
  }

  /** Aborted (with the reason) when the lease can no longer hold keys. */
  get dead(): AbortSignal {
    return this.#dead.signal
  }

  /** Last moment this driver may count on the lease, by its own clock (core's margin included). */
  get deadlineMs(): number {
    return this.confirmedAtMs + this.ttlMs * 0.99 - 2
  }

  /** When the next keepalive is due. */
  get keepAliveAtMs(): number {
    return this.confirmedAtMs + this.ttlMs * KEEPALIVE_FRACTION
  }

  /** Ms of confirmed life left at `nowMs`. */
  leftMs(nowMs = performance.now()): number {
    return this.deadlineMs - nowMs
  }

  /** Records a keepalive sent at `sentAtMs` that the server confirmed. */
  confirm(sentAtMs: number): void {
    if (sentAtMs > this.confirmedAtMs) this.confirmedAtMs = sentAtMs
  }

  /** Marks the lease dead and clears its timers; first call wins. */
  kill(reason: unknown): void {
    this.clearTimers()
    if (!this.#dead.signal.aborted) this.#dead.abort(reason)
  }

  clearTimers(): void {
    clearTimeout(this.keepAliveTimer)
    clearTimeout(this.deadlineTimer)
    clearTimeout(this.lingerTimer)
    this.keepAliveTimer = undefined
    this.deadlineTimer = undefined
    this.lingerTimer = undefined
  }
}
