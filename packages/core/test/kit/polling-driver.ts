import { sleep } from '../../src/driver-kit/index.js'
import type { AcquireRequest, DriverLease } from '../../src/index.js'
import { WrappedDriver } from './wrapped-driver.js'

/** Pause between two attempts: a polling floor far above L4's 50 ms push bound. */
const POLL_MS = 150

/** Broken on purpose: declares `nativeWait` but waits by polling every 150 ms. */
export class PollingDriver extends WrappedDriver {
  override async acquire(req: AcquireRequest): Promise<DriverLease | null> {
    const deadlineMs = performance.now() + req.waitMs
    for (;;) {
      const lease = await this.inner.acquire({ ...req, waitMs: 0 })
      if (lease !== null || req.signal.aborted) return lease
      const leftMs = deadlineMs - performance.now()
      if (leftMs <= 0) return null
      await sleep(Math.min(POLL_MS, leftMs), req.signal)
    }
  }
}
