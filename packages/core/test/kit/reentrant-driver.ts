import type { AcquireRequest, DriverLease, MemoryDriver, RenewResult } from '../../src/index.js'
import { WrappedDriver } from './wrapped-driver.js'

/**
 * One server session shared by several drivers, the way a factory that hands every driver
 * the same client or pool shares a PostgreSQL or MySQL session. Like those servers, it
 * re-enters: a key the session holds is granted again to whoever asks on the session.
 */
export class SharedSession {
  /** Key -> the lease the session holds and how many times it was entered. */
  readonly held = new Map<string, { lease: DriverLease; entries: number }>()
}

/** Broken on purpose: grants a key its session already holds to a second owner at once (re-entrant grant). */
export class ReentrantDriver extends WrappedDriver {
  readonly #session: SharedSession

  constructor(inner: MemoryDriver, session: SharedSession) {
    super(inner, 'reentrant')
    this.#session = session
  }

  override async acquire(req: AcquireRequest): Promise<DriverLease | null> {
    const entered = this.#session.held.get(req.key)
    if (entered !== undefined) {
      entered.entries++
      return { ...entered.lease, owner: req.owner }
    }
    const lease = await this.inner.acquire(req)
    if (lease !== null) this.#session.held.set(req.key, { lease, entries: 1 })
    return lease
  }

  override renew(lease: DriverLease, ttlMs: number): Promise<RenewResult> {
    return this.inner.renew(this.#sessionLease(lease), ttlMs)
  }

  override async release(lease: DriverLease): Promise<boolean> {
    const entered = this.#session.held.get(lease.key)
    if (entered === undefined) return this.inner.release(lease)
    if (--entered.entries > 0) return true
    this.#session.held.delete(lease.key)
    return this.inner.release(entered.lease)
  }

  #sessionLease(lease: DriverLease): DriverLease {
    return this.#session.held.get(lease.key)?.lease ?? lease
  }
}
