import type {
  AcquireRequest,
  DriverLease,
  LockDriver,
  LockInfo,
  LockMode,
  RenewResult,
} from '../src/driver.js'
import { MemoryDriver } from '../src/memory-driver.js'

/** A promise with its resolve/reject exposed, for scripting a driver's replies. */
export interface Deferred<T> {
  readonly promise: Promise<T>
  resolve(value: T): void
  reject(err: unknown): void
}

export function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void
  let reject!: (err: unknown) => void
  const promise = new Promise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

/**
 * A driver over a MemoryDriver whose calls are recorded and can be replaced per test:
 * hanging acquires, slow or failing renewals, `{ ok: false }`, thrown errors.
 */
export class ScriptedDriver implements LockDriver {
  readonly name: string = 'scripted'
  readonly inner: MemoryDriver
  readonly capabilities: LockDriver['capabilities']
  readonly acquires: AcquireRequest[] = []
  readonly renews: Array<{ lease: DriverLease; ttlMs: number }> = []
  readonly renewManyCalls: Array<{ leases: readonly DriverLease[]; ttlMs: number }> = []
  readonly releases: DriverLease[] = []
  closed = 0
  acquireImpl: ((req: AcquireRequest) => Promise<DriverLease | null>) | undefined
  renewImpl: ((lease: DriverLease, ttlMs: number) => Promise<RenewResult>) | undefined
  releaseImpl: ((lease: DriverLease) => Promise<boolean>) | undefined
  renewMany?: (leases: readonly DriverLease[], ttlMs: number) => Promise<RenewResult[]>
  inspect?: (key: string, mode?: LockMode) => Promise<LockInfo | null>

  constructor(
    inner = new MemoryDriver(),
    options: { renewMany?: boolean; inspect?: boolean } = {},
  ) {
    this.inner = inner
    this.capabilities = inner.capabilities
    if (options.renewMany ?? true) {
      this.renewMany = async (leases, ttlMs) => {
        this.renewManyCalls.push({ leases, ttlMs })
        return Promise.all(leases.map((lease) => this.#renew(lease, ttlMs)))
      }
    }
    if (options.inspect ?? true) this.inspect = (key, mode) => this.inner.inspect(key, mode)
  }

  acquire(req: AcquireRequest): Promise<DriverLease | null> {
    this.acquires.push(req)
    return this.acquireImpl ? this.acquireImpl(req) : this.inner.acquire(req)
  }

  renew(lease: DriverLease, ttlMs: number): Promise<RenewResult> {
    this.renews.push({ lease, ttlMs })
    return this.#renew(lease, ttlMs)
  }

  release(lease: DriverLease): Promise<boolean> {
    this.releases.push(lease)
    return this.releaseImpl ? this.releaseImpl(lease) : this.inner.release(lease)
  }

  async close(): Promise<void> {
    this.closed++
    await this.inner.close()
  }

  #renew(lease: DriverLease, ttlMs: number): Promise<RenewResult> {
    return this.renewImpl ? this.renewImpl(lease, ttlMs) : this.inner.renew(lease, ttlMs)
  }
}
