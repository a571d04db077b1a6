import type { AcquireRequest, DriverLease, RenewResult } from '../../src/index.js'
import { WrappedDriver } from './wrapped-driver.js'

/** Broken on purpose: every holder gets fence 1 (a counter that is read, never incremented). */
export class FenceReusedDriver extends WrappedDriver {
  readonly #inner = new WeakMap<DriverLease, DriverLease>()

  override async acquire(req: AcquireRequest): Promise<DriverLease | null> {
    const lease = await this.inner.acquire(req)
    if (lease === null) return null
    const reused = { ...lease, fence: 1n }
    this.#inner.set(reused, lease)
    return reused
  }

  override renew(lease: DriverLease, ttlMs: number): Promise<RenewResult> {
    return this.inner.renew(this.#inner.get(lease) ?? lease, ttlMs)
  }

  override release(lease: DriverLease): Promise<boolean> {
    return this.inner.release(this.#inner.get(lease) ?? lease)
  }
}
