import type { AcquireRequest, DriverLease, LockDriver, RenewResult } from '@baton-lock/core'

/** Calls core made into a driver, counted by `countingDriver`. */
export interface DriverCounts {
  acquireCalls: number
  renewCalls: number
  renewManyCalls: number
  /** Leases confirmed or refused by renew and renewMany together. */
  leasesRenewed: number
  releaseCalls: number
}

/**
 * Wraps a driver to count the calls core makes into it (the scale scenario's view of
 * renewal batching, independent of the backend). `renewMany` exists on the wrapper only
 * when the driver has it, so core sees the same capabilities.
 */
export function countingDriver(inner: LockDriver): { driver: LockDriver; counts: DriverCounts } {
  const counts: DriverCounts = {
    acquireCalls: 0,
    renewCalls: 0,
    renewManyCalls: 0,
    leasesRenewed: 0,
    releaseCalls: 0,
  }
  const driver: LockDriver = {
    name: inner.name,
    capabilities: inner.capabilities,
    acquire(req: AcquireRequest) {
      counts.acquireCalls += 1
      return inner.acquire(req)
    },
    renew(lease: DriverLease, ttlMs: number): Promise<RenewResult> {
      counts.renewCalls += 1
      counts.leasesRenewed += 1
      return inner.renew(lease, ttlMs)
    },
    release(lease: DriverLease) {
      counts.releaseCalls += 1
      return inner.release(lease)
    },
    close: () => inner.close(),
  }
  const renewMany = inner.renewMany?.bind(inner)
  if (renewMany !== undefined) {
    driver.renewMany = (leases: readonly DriverLease[], ttlMs: number) => {
      counts.renewManyCalls += 1
      counts.leasesRenewed += leases.length
      return renewMany(leases, ttlMs)
    }
  }
  if (inner.inspect !== undefined) driver.inspect = inner.inspect.bind(inner)
  return { driver, counts }
}
