import type { DriverLease } from '../../src/index.js'
import { WrappedDriver } from './wrapped-driver.js'

/** Broken on purpose: release deletes the key whoever holds it (a DEL instead of a compare-and-delete). */
export class ReleaseIgnoresOwnerDriver extends WrappedDriver {
  override async release(lease: DriverLease): Promise<boolean> {
    return this.inner.store.drop(lease.key, { notify: false })
  }
}
