import type { AcquireRequest, DriverLease } from '../../src/index.js'
import { WrappedDriver } from './wrapped-driver.js'

/** Broken on purpose: declares `lossSignal` but hands out a `lost` signal that never aborts. */
export class NoLostSignalDriver extends WrappedDriver {
  override async acquire(req: AcquireRequest): Promise<DriverLease | null> {
    const lease = await this.inner.acquire(req)
    return lease === null ? null : { ...lease, lost: new AbortController().signal }
  }
}
