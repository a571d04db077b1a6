import type {
  AcquireRequest,
  Capabilities,
  DriverLease,
  LockDriver,
  LockInfo,
  LockMode,
  MemoryDriver,
  RenewResult,
} from '../../src/index.js'

/**
 * A correct driver (a `MemoryDriver`) behind a thin wrapper; each broken driver of the
 * kit's self-test overrides the one method it breaks. No `renewMany`, so core's renewals
 * go through `renew`.
 */
export class WrappedDriver implements LockDriver {
  readonly name: string
  readonly capabilities: Capabilities
  protected readonly inner: MemoryDriver

  constructor(inner: MemoryDriver, name: string) {
    this.inner = inner
    this.name = name
    this.capabilities = inner.capabilities
  }

  acquire(req: AcquireRequest): Promise<DriverLease | null> {
    return this.inner.acquire(req)
  }

  renew(lease: DriverLease, ttlMs: number): Promise<RenewResult> {
    return this.inner.renew(lease, ttlMs)
  }

  release(lease: DriverLease): Promise<boolean> {
    return this.inner.release(lease)
  }

  inspect(key: string, mode?: LockMode): Promise<LockInfo | null> {
    return this.inner.inspect(key, mode)
  }

  close(): Promise<void> {
    return this.inner.close()
  }
}
