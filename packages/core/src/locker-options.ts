import type { Clock } from './clock.js'
import type { LockEvent } from './lock-event.js'

/** Options of a `Locker`, frozen at construction. */
export interface LockerOptions {
  /** Prefix of every key sent to the driver, joined as `${namespace}:${key}`. Default '' (none). */
  readonly namespace?: string
  /** Default lease length in ms. Default 30 000. */
  readonly ttlMs?: number
  /** Default wait in ms for `acquire`. Default 30 000; `Infinity` waits for ever. */
  readonly waitMs?: number
  /**
   * Longest a single attempt (`waitMs: 0`, `tryAcquire`) may wait for the backend's answer
   * before it fails with `LockTimeoutError`. A one-attempt acquire needs one round trip (and,
   * on a cold driver, a connect), so it is not held to `waitMs + 50 ms` like a real wait.
   * Default 5 000.
   */
  readonly attemptTimeoutMs?: number
  /** Renew held locks in the background at a third of their TTL. Default true. */
  readonly renew?: boolean
  /** Receives every lock event; a throwing listener is ignored (and never breaks the lock). */
  readonly onEvent?: (event: LockEvent) => void
  /** Close the driver when the Locker closes. Default true. */
  readonly closeDriver?: boolean
  /** Time source; inject a fake for deterministic tests. Default: the system's monotonic clock. */
  readonly clock?: Clock
}

/** Options of one `acquire`, `tryAcquire` or `withLock` call. */
export interface AcquireOptions {
  /** How long to wait for the key, in ms; 0 is one attempt, `Infinity` waits for ever. Default: the Locker's. */
  readonly waitMs?: number
  /** Lease length in ms. Default: the Locker's. */
  readonly ttlMs?: number
  /** Aborts the wait with `LockAbortedError`. */
  readonly signal?: AbortSignal
}
