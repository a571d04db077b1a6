import { defineCapabilities } from './capabilities.js'
import type { Clock } from './clock.js'
import type {
  AcquireRequest,
  DriverLease,
  LockDriver,
  LockInfo,
  LockMode,
  RenewResult,
} from './driver.js'
import { DriverLifecycle } from './driver-kit/driver-lifecycle.js'
import { MemoryStore } from './memory-store.js'

/** Options of a `MemoryDriver`. */
export interface MemoryDriverOptions {
  /**
   * The in-process "server" to use. Drivers sharing one store exclude each other like
   * separate connections to one server. Default: a private store.
   */
  readonly store?: MemoryStore
  /** Time source of a private store (ignored when `store` is given: the store's clock wins). */
  readonly clock?: Clock
}

const CAPABILITIES = defineCapabilities({
  expiry: 'lease',
  ttlResolutionMs: 1,
  nativeWait: true,
  fair: true,
  // Fences never go back while the store lives; the store is the whole "deployment".
  fencing: 'durable',
  lossSignal: true,
  maxKeyBytes: 1024,
  inspect: true,
  sharedLocks: true,
  semaphores: true,
})

/**
 * The in-process reference driver: exclusive and shared locks (one read-write lock per
 * key) and semaphores, FIFO fair across modes, push wake-ups (a release grants the next
 * waiter directly), lease expiry by timer on the monotonic clock, durable fences within
 * the process. Locks never leave the process; use it for tests and single-process apps.
 */
export class MemoryDriver implements LockDriver {
  readonly name = 'memory'
  readonly capabilities = CAPABILITIES
  readonly store: MemoryStore
  readonly #lifecycle = new DriverLifecycle('memory')

  /** A driver with a private store, for the `memory:` URL. */
  static fromUrl(url: string): MemoryDriver {
    if (url !== 'memory:' && url !== 'memory://') {
      throw new TypeError('memory URL takes no path or options: use "memory:"')
    }
    return new MemoryDriver()
  }

  constructor(options: MemoryDriverOptions = {}) {
    this.store = options.store ?? new MemoryStore(options.clock ? { clock: options.clock } : {})
  }

  async acquire(req: AcquireRequest): Promise<DriverLease | null> {
    this.#lifecycle.assertOpen()
    const { key, owner, ttlMs, waitMs, mode, limit, value } = req
    return this.store.acquire({
      client: this,
      key,
      owner,
      ttlMs,
      waitMs,
      mode,
      ...(limit === undefined ? {} : { limit }),
      ...(value === undefined ? {} : { value }),
      request: req,
    })
  }

  async renew(lease: DriverLease, ttlMs: number): Promise<RenewResult> {
    this.#lifecycle.assertOpen()
    return this.store.renew(lease, ttlMs)
  }

  async renewMany(leases: readonly DriverLease[], ttlMs: number): Promise<RenewResult[]> {
    this.#lifecycle.assertOpen()
    return leases.map((lease) => this.store.renew(lease, ttlMs))
  }

  async release(lease: DriverLease): Promise<boolean> {
    this.#lifecycle.assertOpen()
    return this.store.release(lease)
  }

  async inspect(key: string, mode?: LockMode): Promise<LockInfo | null> {
    this.#lifecycle.assertOpen()
    return this.store.inspect(key, mode)
  }

  async list(prefix: string): Promise<Array<LockInfo & { readonly key: string }>> {
    this.#lifecycle.assertOpen()
    return this.store.list(prefix)
  }

  async forceRelease(key: string): Promise<boolean> {
    this.#lifecycle.assertOpen()
    return this.store.drop(key, { reason: 'force-released' })
  }

  /**
   * Test hook: drops a lock as a server would (eviction, admin kill). Aborts the holder's
   * `lost` signal unless `notify` is false, in which case only the next renewal finds out.
   * Suits the conformance kit's `faults.dropLock`.
   */
  async dropLock(
    lock: { readonly key: string; readonly owner?: string },
    options: { readonly notify?: boolean } = {},
  ): Promise<boolean> {
    const drop = { reason: 'dropped', notify: options.notify ?? true }
    return this.store.drop(
      lock.key,
      lock.owner === undefined ? drop : { ...drop, owner: lock.owner },
    )
  }

  /** Releases every lock this driver holds and ends its waits; idempotent. */
  close(): Promise<void> {
    return this.#lifecycle.close(async () => this.store.disconnect(this))
  }
}
