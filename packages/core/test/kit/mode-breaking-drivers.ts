import type { AcquireRequest, DriverLease, MemoryDriver, RenewResult } from '../../src/index.js'
import { LockLimitMismatchError } from '../../src/index.js'
import { WrappedDriver } from './wrapped-driver.js'

/**
 * Leases a broken driver hands out without the store knowing: renewals and releases of
 * them "succeed", so only the kit's safety checks can tell.
 */
class PhantomLeases {
  readonly #leases = new WeakSet<DriverLease>()
  #fence = 1_000_000n

  grant(req: AcquireRequest): DriverLease {
    const lease: DriverLease = {
      key: req.key,
      owner: req.owner,
      fence: ++this.#fence,
      ttlMs: req.ttlMs,
      sentAtMs: performance.now(),
      lost: new AbortController().signal,
    }
    this.#leases.add(lease)
    return lease
  }

  has(lease: DriverLease): boolean {
    return this.#leases.has(lease)
  }
}

/** A wrapper whose `grantsAnyway` requests get a phantom lease when the store refuses them. */
abstract class PhantomGrantDriver extends WrappedDriver {
  readonly #phantoms = new PhantomLeases()

  protected abstract grantsAnyway(req: AcquireRequest): boolean

  override async acquire(req: AcquireRequest): Promise<DriverLease | null> {
    if (!this.grantsAnyway(req)) return this.inner.acquire(req)
    const lease = await this.inner.acquire({ ...req, waitMs: 0 })
    return lease ?? this.#phantoms.grant(req)
  }

  override renew(lease: DriverLease, ttlMs: number): Promise<RenewResult> {
    if (this.#phantoms.has(lease)) return Promise.resolve({ ok: true, ttlMs })
    return this.inner.renew(lease, ttlMs)
  }

  override release(lease: DriverLease): Promise<boolean> {
    if (this.#phantoms.has(lease)) return Promise.resolve(true)
    return this.inner.release(lease)
  }
}

/** Broken on purpose (R1): a shared request is granted even while an exclusive holder holds the key. */
export class SharedBesideExclusiveDriver extends PhantomGrantDriver {
  protected grantsAnyway(req: AcquireRequest): boolean {
    return req.mode === 'shared'
  }
}

/** Broken on purpose (E1): an exclusive request with a value (an election campaign) ignores the holder. */
export class TwoLeadersDriver extends PhantomGrantDriver {
  protected grantsAnyway(req: AcquireRequest): boolean {
    return req.mode === 'exclusive' && req.value !== undefined
  }
}

/** Broken on purpose (M1): a semaphore admits one holder more than its limit (an off-by-one count). */
export class SemaphoreOverAdmitsDriver extends WrappedDriver {
  override acquire(req: AcquireRequest): Promise<DriverLease | null> {
    if (req.mode !== 'semaphore' || req.limit === undefined) return this.inner.acquire(req)
    return this.inner.acquire({ ...req, limit: req.limit + 1 })
  }
}

/**
 * Broken on purpose (F1): one fence counter per key and mode, so a shared holder after an
 * exclusive one starts again at 1 (as a driver keeping readers and writers apart would).
 */
export class FenceReusedAcrossModesDriver extends WrappedDriver {
  readonly #counters: Map<string, bigint>
  readonly #inner = new WeakMap<DriverLease, DriverLease>()

  /** `counters` is shared by every driver of one run, as a server-side counter would be. */
  constructor(inner: MemoryDriver, counters: Map<string, bigint>) {
    super(inner, 'fence-reused-across-modes')
    this.#counters = counters
  }

  override async acquire(req: AcquireRequest): Promise<DriverLease | null> {
    const lease = await this.inner.acquire(req)
    if (lease === null) return null
    const slot = `${req.mode}\u0000${req.key}`
    const fence = (this.#counters.get(slot) ?? 0n) + 1n
    this.#counters.set(slot, fence)
    const renamed = { ...lease, fence }
    this.#inner.set(renamed, lease)
    return renamed
  }

  override renew(lease: DriverLease, ttlMs: number): Promise<RenewResult> {
    return this.inner.renew(this.#inner.get(lease) ?? lease, ttlMs)
  }

  override release(lease: DriverLease): Promise<boolean> {
    return this.inner.release(this.#inner.get(lease) ?? lease)
  }
}

/**
 * Broken on purpose (M1b): permits live on the lock of the same key (as shared holds), so
 * `semaphore('k')` and `acquire('k')` block each other.
 */
export class SemaphoreOnLockDriver extends WrappedDriver {
  override acquire(req: AcquireRequest): Promise<DriverLease | null> {
    if (req.mode !== 'semaphore') return this.inner.acquire(req)
    const { limit: _limit, ...rest } = req
    return this.inner.acquire({ ...rest, mode: 'shared' })
  }
}

/**
 * Broken on purpose (RS4, MS5): a lost wake-up. Only the first waiter of a key in a mode
 * waits on the store's push; every later one learns of a release only by a slow poll, as a
 * driver that wakes one waiter per release (or watches the wrong node) does.
 */
export class LostWakeupDriver extends WrappedDriver {
  readonly #waiting: Map<string, number>

  /** `waiting` is shared by every driver of one run, as the backend's queue would be. */
  constructor(inner: MemoryDriver, waiting: Map<string, number>) {
    super(inner, 'lost-wakeup')
    this.#waiting = waiting
  }

  override async acquire(req: AcquireRequest): Promise<DriverLease | null> {
    if (req.mode === 'exclusive' || req.waitMs <= 0) return this.inner.acquire(req)
    const slot = `${req.mode}\u0000${req.key}`
    const ahead = this.#waiting.get(slot) ?? 0
    this.#waiting.set(slot, ahead + 1)
    try {
      if (ahead === 0) return await this.inner.acquire(req)
      const deadlineMs = performance.now() + req.waitMs
      for (let i = 0; i < 1_000; i++) {
        const lease = await this.inner.acquire({ ...req, waitMs: 0 })
        if (lease !== null) return lease
        const leftMs = deadlineMs - performance.now()
        if (leftMs <= 0 || req.signal.aborted) return null
        await new Promise((resolve) => setTimeout(resolve, Math.min(leftMs, 3_000)))
      }
      return null
    } finally {
      this.#waiting.set(slot, (this.#waiting.get(slot) ?? 1) - 1)
    }
  }
}

/**
 * Broken on purpose (MS7): the first limit a semaphore key was used with is kept for ever,
 * so a later use with another limit is refused even after every holder released.
 */
export class LimitNeverResetDriver extends WrappedDriver {
  readonly #limits: Map<string, number>

  /** `limits` is shared by every driver of one run, as a server-side record would be. */
  constructor(inner: MemoryDriver, limits: Map<string, number>) {
    super(inner, 'limit-never-reset')
    this.#limits = limits
  }

  override acquire(req: AcquireRequest): Promise<DriverLease | null> {
    if (req.mode !== 'semaphore' || req.limit === undefined) return this.inner.acquire(req)
    const first = this.#limits.get(req.key)
    if (first !== undefined && first !== req.limit) {
      return Promise.reject(new LockLimitMismatchError(req.key, req.limit, first))
    }
    this.#limits.set(req.key, req.limit)
    return this.inner.acquire(req)
  }
}
