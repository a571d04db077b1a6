/**
 * What a backend can promise. Drivers declare these as data with `defineCapabilities()`;
 * core and the conformance kit read them, and test files never toggle them.
 */
export interface Capabilities {
  /**
   * `lease`: the backend expires a silent holder's key after `ttlMs` (Redis, etcd, SQLite).
   * `session`: locks live on a server session whose liveness the driver maps onto `ttlMs`
   * (PostgreSQL, MySQL, ZooKeeper). Default `lease`.
   */
  readonly expiry: 'lease' | 'session'
  /** Smallest TTL step the backend honours, in ms; core rejects smaller TTLs and the kit scales its waits by it. Default 1. */
  readonly ttlResolutionMs: number
  /** The driver waits with a push mechanism (pub/sub, watch, server-side block). Without it the kit skips the push-latency check. Default false. */
  readonly nativeWait: boolean
  /** Waiters are granted in arrival order across processes. Default false. */
  readonly fair: boolean
  /**
   * A waiting acquire takes its place in a server-side queue with its first request and is
   * granted as soon as that place comes up (ZooKeeper's sequential node). Core then makes one
   * driver call with the whole `waitMs` instead of a `waitMs: 0` attempt first, which would
   * only add round trips and, on a queue, give up the waiter's place; the driver reports
   * finding the key held through `AcquireRequest.onContended`. Default false.
   */
  readonly queuedWait: boolean
  /** `durable` if fences stay increasing across a server restart of the documented deployment. Default `volatile`. */
  readonly fencing: 'durable' | 'volatile'
  /** The driver aborts `lease.lost` on server evidence of loss (N2); without it core learns of loss only by a failed renewal. Default false. */
  readonly lossSignal: boolean
  /** Longest namespaced key in UTF-8 bytes the driver accepts. Default 1024. */
  readonly maxKeyBytes: number
  /** The driver implements `inspect()`; without it `Locker.inspect` throws `LockUnsupportedError`. Default false. */
  readonly inspect: boolean
  /**
   * The driver grants `mode: 'shared'` requests: many shared holders at once, none beside an
   * exclusive holder, and a waiting exclusive request is not starved by later shared ones.
   * Fences stay strictly increasing per key across both modes. Default false.
   */
  readonly sharedLocks: boolean
  /**
   * The driver grants `mode: 'semaphore'` requests: at most `limit` holders of a semaphore
   * key at once, each with its own fence (strictly increasing per key), renewal and loss
   * signal. Default false.
   */
  readonly semaphores: boolean
}

const DEFAULTS: Capabilities = {
  expiry: 'lease',
  ttlResolutionMs: 1,
  nativeWait: false,
  fair: false,
  queuedWait: false,
  fencing: 'volatile',
  lossSignal: false,
  maxKeyBytes: 1024,
  inspect: false,
  sharedLocks: false,
  semaphores: false,
}

/** Fills in the documented defaults, checks the values and freezes the result. */
export function defineCapabilities(partial: Partial<Capabilities> = {}): Readonly<Capabilities> {
  const caps = { ...DEFAULTS, ...partial }
  if (caps.expiry !== 'lease' && caps.expiry !== 'session') {
    throw new TypeError(
      `capabilities.expiry must be 'lease' or 'session', got ${String(caps.expiry)}`,
    )
  }
  if (caps.fencing !== 'durable' && caps.fencing !== 'volatile') {
    throw new TypeError(
      `capabilities.fencing must be 'durable' or 'volatile', got ${String(caps.fencing)}`,
    )
  }
  if (!Number.isInteger(caps.ttlResolutionMs) || caps.ttlResolutionMs < 1) {
    throw new RangeError(
      `capabilities.ttlResolutionMs must be an integer >= 1, got ${caps.ttlResolutionMs}`,
    )
  }
  if (!Number.isInteger(caps.maxKeyBytes) || caps.maxKeyBytes < 1) {
    throw new RangeError(
      `capabilities.maxKeyBytes must be an integer >= 1, got ${caps.maxKeyBytes}`,
    )
  }
  return Object.freeze(caps)
}
