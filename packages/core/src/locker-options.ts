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
  /**
   * `exclusive` (default), or `shared`: a read lock, held beside any number of other shared
   * holders of the key but never beside an exclusive one. Needs a driver with
   * `capabilities.sharedLocks`; otherwise the call rejects with `LockUnsupportedError`.
   */
  readonly mode?: 'exclusive' | 'shared'
}

/** Options of one semaphore acquire: those of a lock acquire, without the mode. */
export type SemaphoreAcquireOptions = Omit<AcquireOptions, 'mode'>

/** How a semaphore is made by `locker.semaphore(key, options)`. */
export interface SemaphoreOptions {
  /** How many holders the semaphore admits at once: an integer from 1 to 10 000. Every holder of the key must use the same limit. */
  readonly limit: number
}

/** How an election is made by `locker.election(key, options)`. */
export interface ElectionOptions {
  /**
   * What this participant advertises while it leads (an address, a host name), at most 1024
   * UTF-8 bytes; `election.leader()` returns it to everyone where the backend stores it.
   * Default: `<hostname>:<pid>`.
   */
  readonly value?: string
  /** Lease length of the leadership in ms. Default: the Locker's. */
  readonly ttlMs?: number
}

/** Options of `election.campaign()`. */
export interface CampaignOptions {
  /** How long to wait for leadership, in ms. Default `Infinity`: a candidate waits until it leads. */
  readonly waitMs?: number
  /** Aborts the campaign with `LockAbortedError`. */
  readonly signal?: AbortSignal
}

/** Options of `election.lead()` and `locker.elect()`. */
export interface LeadOptions {
  /** After losing leadership, campaign again (after a short pause) instead of returning. Default false. */
  readonly recampaign?: boolean
  /** Stops campaigning and resigns; `lead()` then resolves. */
  readonly signal?: AbortSignal
}
