import type { Capabilities } from './capabilities.js'

/**
 * What a request asks for. `exclusive`: the mutex. `shared`: a read lock on the same key,
 * held by any number of owners at once but never beside an exclusive holder
 * (`capabilities.sharedLocks`). `semaphore`: one of `limit` permits of the semaphore named
 * by the key, a resource separate from the lock of the same key
 * (`capabilities.semaphores`). Core sends `shared` and `semaphore` only to drivers that
 * declare them.
 */
export type LockMode = 'exclusive' | 'shared' | 'semaphore'

/** One acquisition attempt as core hands it to a driver, after validation and namespacing. */
export interface AcquireRequest {
  /** Namespaced key, 1 to `capabilities.maxKeyBytes` UTF-8 bytes; the driver maps it into its backend's limits. */
  readonly key: string
  /** Random 128-bit id of this acquisition (hex); the only identity S2 checks against. */
  readonly owner: string
  /** Requested lease length in ms; at least `capabilities.ttlResolutionMs`. */
  readonly ttlMs: number
  /** How long the driver may wait for the key, in ms; 0 means one attempt, `Infinity` no limit. */
  readonly waitMs: number
  /** The kind of grant; `exclusive` for every request of a driver that declares no other mode. */
  readonly mode: LockMode
  /**
   * Set only for `mode: 'semaphore'`: how many holders the semaphore admits at once, an
   * integer >= 1. Every holder of a key must agree; a driver that can tell throws
   * `LockLimitMismatchError` when the key's current holders use another limit.
   */
  readonly limit?: number
  /**
   * What the holder advertises about itself (a leader's address, a participant id), at most
   * 1024 UTF-8 bytes. The driver stores it with the grant where its layout has room (etcd's
   * key value, a ZooKeeper node's data) and `inspect` returns it as `LockInfo.value`.
   */
  readonly value?: string
  /**
   * Aborted by core on timeout, caller abort or close; the driver stops waiting and leaves
   * nothing held (S4). A grant it still returns after the abort is released by core.
   */
  readonly signal: AbortSignal
  /**
   * Calls `listener` once when `signal` aborts (at once when it has), until the returned
   * function is called: the same event as an `abort` listener on `signal`, for a driver
   * whose wait would otherwise be the only reader of `signal`. Core sets it on every
   * request; a request built by hand may lack it (then listen on `signal`). Cheaper than
   * `signal`, which core makes only when read: making it and adding and removing a
   * listener cost a waiting acquire about 30 µs of CPU in the PostgreSQL hand-off profile.
   */
  readonly onAbort?: (listener: (reason: unknown) => void) => () => void
  /**
   * Set only when core skipped its `waitMs: 0` attempt (`capabilities.queuedWait`): the
   * driver calls it when it finds the key held and starts to wait, so core can emit
   * `contended`. Core ignores calls after the first.
   */
  readonly onContended?: () => void
}

/** A lock the backend granted; core wraps it in a `LockHandle`. */
export interface DriverLease {
  /** The namespaced key from the request. */
  readonly key: string
  /** The owner id from the request. */
  readonly owner: string
  /** Fencing token: strictly greater than every earlier holder's fence for this key (S3). */
  readonly fence: bigint
  /** The lease length the backend granted, in ms (etcd rounds to whole seconds). */
  readonly ttlMs: number
  /**
   * Monotonic time taken just BEFORE sending the request that confirmed the grant, on the
   * Locker's clock: `performance.now()` (a driver that accepts a test clock, like
   * `MemoryDriver`, must be given the same one as the Locker).
   */
  readonly sentAtMs: number
  /** Aborted by the driver, with a reason, on any server evidence that the lock is gone (N2). */
  readonly lost: AbortSignal
}

/** Outcome of a renewal: ownership confirmed for `ttlMs` more, or the lock is gone. */
export type RenewResult = { readonly ok: true; readonly ttlMs: number } | { readonly ok: false }

/** What a backend can tell about a key without owning it. */
export interface LockInfo {
  /** True while some owner holds the key. */
  readonly held: boolean
  /** The current holder's fence, where the backend can tell. */
  readonly fence?: bigint
  /** The current holder's remaining lease in ms, where the backend can tell. */
  readonly ttlRemainingMs?: number
  /** The current holder's owner id, where the backend can tell (the first holder's for shared locks). */
  readonly owner?: string
  /** Which mode the key is held in, where the backend can tell. */
  readonly mode?: LockMode
  /** How many owners hold the key (shared holders, semaphore permits in use), where the backend can tell. */
  readonly holders?: number
  /** A semaphore's limit as its holders declared it, where the backend can tell. */
  readonly limit?: number
  /** The holder's advertised `AcquireRequest.value` (the current leader's), where the backend stores it. */
  readonly value?: string
}

/**
 * The minimal contract a backend implements. Drivers return facts (`null`, `false`,
 * `{ ok: false }`) or throw raw backend errors; core validates arguments, maps errors to
 * typed ones and owns all timing (DESIGN section 3).
 */
export interface LockDriver {
  /** Short backend name: "redis", "postgres", "memory", ... */
  readonly name: string
  /** What this backend can promise, built with `defineCapabilities()`. */
  readonly capabilities: Capabilities
  /** Takes the key for `req.owner`, waiting up to `req.waitMs`; null when not granted in time or aborted. */
  acquire(req: AcquireRequest): Promise<DriverLease | null>
  /** Extends the lease to `ttlMs` from now if `lease.owner` still holds it; never touches another owner's lock (S2). */
  renew(lease: DriverLease, ttlMs: number): Promise<RenewResult>
  /** Releases the lock if `lease.owner` still holds it; false when it was no longer ours. Wakes waiters. */
  release(lease: DriverLease): Promise<boolean>
  /** Renews many leases in one round trip; results in the order of `leases`. */
  renewMany?(leases: readonly DriverLease[], ttlMs: number): Promise<RenewResult[]>
  /**
   * Reads the state of a namespaced key; null when the key is free. `mode: 'semaphore'`
   * reads the semaphore named `key` (a driver declaring `semaphores` must support it);
   * otherwise the lock, whichever mode holds it.
   */
  inspect?(key: string, mode?: LockMode): Promise<LockInfo | null>
  /** Lists held keys starting with `prefix` (operations: `baton ls`). */
  list?(prefix: string): Promise<Array<LockInfo & { readonly key: string }>>
  /** Frees a key whoever holds it (operations: `baton release --force`); true when something was freed. */
  forceRelease?(key: string): Promise<boolean>
  /**
   * Called by core when `acquire(req)` rejected, so its outcome is unknown: a request that
   * timed out on the client may still run on a stalled server later and grant the key.
   * Frees whatever `req.owner` holds on `req.key`, owner-checked (S2), ordered after the
   * acquire where the backend allows (same connection). Drivers whose failed acquire can
   * never grant later leave it out. Its failure is ignored: the TTL frees the key then.
   */
  abandon?(req: AcquireRequest): Promise<void>
  /**
   * Connects and reads what the capabilities depend on (e.g. Redis persistence), so that
   * `capabilities` is final before the first acquire; `connect(url)` awaits it. Idempotent.
   */
  ready?(): Promise<void>
  /** Releases what the driver holds and closes what it owns; idempotent. */
  close(): Promise<void>
}
