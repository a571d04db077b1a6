import type { DriverLease, RenewResult } from '../../src/index.js'
import { WrappedDriver } from './wrapped-driver.js'

/** Broken on purpose: renew says yes without asking whether the lease is still ours (a blind PEXPIRE). */
export class RenewAlwaysSucceedsDriver extends WrappedDriver {
  override async renew(lease: DriverLease, ttlMs: number): Promise<RenewResult> {
    await this.inner.renew(lease, ttlMs)
    return { ok: true, ttlMs }
  }
}
