import type {
  AcquireRequest,
  DriverLease,
  LockDriver,
  LockHandle,
  RenewResult,
} from '@baton-lock/core'
import type { Control } from './client-config.js'

/**
 * Negative controls: broken variants that the suite must catch, each by a named checker.
 * - `renew-blind`: renew says yes without asking the backend whether the lease is still its
 *   own, and so never hears that it lapsed (its lease's loss signal never fires): S1.
 * - `constant-fence`: every grant carries fence 1 (no fencing): S3.
 * - `late-signal`: the lock layer hands the application a signal that aborts 1 s after the
 *   handle's own (a loss signal that trails validity): N1.
 * - `no-check`: the client writes without checking `isValid()` first: W1.
 */
export function wrapDriver(driver: LockDriver, control: Control | undefined): LockDriver {
  if (control === 'renew-blind') return new RenewBlind(driver)
  if (control === 'constant-fence') return new ConstantFence(driver)
  return driver
}

/** The signal the application listens to: the handle's own, or a late copy (`late-signal`). */
export function signalOf(handle: LockHandle, control: Control | undefined): AbortSignal {
  if (control !== 'late-signal') return handle.signal
  const late = new AbortController()
  handle.signal.addEventListener(
    'abort',
    () => setTimeout(() => late.abort(handle.signal.reason), LATE_SIGNAL_MS),
    { once: true },
  )
  return late.signal
}

export const LATE_SIGNAL_MS = 1_000

class Delegating implements LockDriver {
  readonly #inner: LockDriver
  constructor(inner: LockDriver) {
    this.#inner = inner
  }
  get name() {
    return this.#inner.name
  }
  get capabilities() {
    return this.#inner.capabilities
  }
  acquire(req: AcquireRequest): Promise<DriverLease | null> {
    return this.#inner.acquire(req)
  }
  renew(lease: DriverLease, ttlMs: number): Promise<RenewResult> {
    return this.#inner.renew(lease, ttlMs)
  }
  release(lease: DriverLease): Promise<boolean> {
    return this.#inner.release(lease)
  }
  ready(): Promise<void> {
    return this.#inner.ready?.() ?? Promise.resolve()
  }
  close(): Promise<void> {
    return this.#inner.close()
  }
}

/** Wraps each granted lease in another object; renew and release get the real one back. */
class Rewrapping extends Delegating {
  readonly #inner = new WeakMap<DriverLease, DriverLease>()
  protected rewrap(lease: DriverLease): DriverLease {
    return lease
  }
  override async acquire(req: AcquireRequest): Promise<DriverLease | null> {
    const lease = await super.acquire(req)
    if (lease === null) return null
    const fake = this.rewrap(lease)
    this.#inner.set(fake, lease)
    return fake
  }
  override renew(lease: DriverLease, ttlMs: number): Promise<RenewResult> {
    return super.renew(this.#inner.get(lease) ?? lease, ttlMs)
  }
  override release(lease: DriverLease): Promise<boolean> {
    return super.release(this.#inner.get(lease) ?? lease)
  }
}

class RenewBlind extends Rewrapping {
  protected override rewrap(lease: DriverLease): DriverLease {
    return { ...fields(lease), fence: lease.fence, lost: new AbortController().signal }
  }
  override async renew(_lease: DriverLease, ttlMs: number): Promise<RenewResult> {
    return { ok: true, ttlMs }
  }
}

class ConstantFence extends Rewrapping {
  protected override rewrap(lease: DriverLease): DriverLease {
    return {
      ...fields(lease),
      fence: 1n,
      get lost() {
        return lease.lost
      },
    }
  }
}

function fields(lease: DriverLease) {
  return { key: lease.key, owner: lease.owner, ttlMs: lease.ttlMs, sentAtMs: lease.sentAtMs }
}
