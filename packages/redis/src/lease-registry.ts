import type { DriverLease } from '@baton-lock/core'
import type { LockKeys } from './key-layout.js'

/** A lease this driver granted and has not seen released. */
export interface TrackedLease {
  readonly lease: DriverLease
  readonly keys: LockKeys
  readonly controller: AbortController
  /** Monotonic time after which the server has surely expired the key unless renewed. */
  expiresAtMs: number
}

/**
 * The leases a driver holds, so a server restart can abort all of them at once and
 * close() can release them. Leases whose time ran out without renewal are swept.
 */
export class LeaseRegistry {
  readonly #byId = new Map<string, TrackedLease>()
  #addsSinceSweep = 0

  get size(): number {
    return this.#byId.size
  }

  add(tracked: TrackedLease): void {
    this.#byId.set(idOf(tracked.lease), tracked)
    if (++this.#addsSinceSweep >= 1024) this.sweep()
  }

  get(lease: DriverLease): TrackedLease | undefined {
    return this.#byId.get(idOf(lease))
  }

  delete(lease: DriverLease): void {
    this.#byId.delete(idOf(lease))
  }

  /** Marks the lease lost (aborts its `lost` signal with `reason`) and forgets it. */
  lose(lease: DriverLease, reason: Error): void {
    const tracked = this.get(lease)
    if (tracked === undefined) return
    this.#byId.delete(idOf(lease))
    tracked.controller.abort(reason)
  }

  /** Aborts every lease with `reason` and forgets them all. */
  loseAll(reason: Error): void {
    const all = [...this.#byId.values()]
    this.#byId.clear()
    for (const tracked of all) tracked.controller.abort(reason)
  }

  /** Removes and returns every lease (close releases them). */
  drain(): TrackedLease[] {
    const all = [...this.#byId.values()]
    this.#byId.clear()
    return all
  }

  /** Forgets leases that expired without renewal (core already treats them as lost). */
  sweep(): void {
    this.#addsSinceSweep = 0
    const now = performance.now()
    for (const [id, tracked] of this.#byId) if (tracked.expiresAtMs < now) this.#byId.delete(id)
  }
}

function idOf(lease: DriverLease): string {
  return `${lease.owner}\u0000${lease.key}`
}
