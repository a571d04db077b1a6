import {
  type AcquireRequest,
  type Capabilities,
  type DriverLease,
  DriverLifecycle,
  LeaseBook,
  type LockDriver,
  type LockInfo,
  pollForGrant,
  type RenewResult,
} from '@baton-lock/core/driver'
import type { LeaseTable } from './lease-table.js'
import { LEASE_TABLE_CAPABILITIES } from './lease-table-capabilities.js'
import { rowKeyOf } from './lease-table-key.js'
import type { LeaseTableDriverOptions } from './lease-table-options.js'

/**
 * A Baton driver for `LeaseTable`, written only against the published
 * `@baton-lock/core/driver` kit: insert-if-absent to acquire, compare-and-extend to renew,
 * compare-and-delete to release, and the kit's bounded poll, capped by the holder's
 * remaining lease, to wait. A grant that arrives after the caller gave up is core's to
 * release (S4); the driver only stops polling.
 */
export class LeaseTableDriver implements LockDriver {
  readonly name = 'lease-table'
  readonly capabilities: Capabilities = LEASE_TABLE_CAPABILITIES
  readonly #table: LeaseTable
  readonly #pollMaxMs: number
  /** Leases granted and not yet released: close() gives them back (H1). */
  readonly #held = new LeaseBook()
  readonly #lifecycle = new DriverLifecycle('lease-table')

  constructor(options: LeaseTableDriverOptions) {
    this.#table = options.table
    this.#pollMaxMs = options.pollMaxMs ?? 50
  }

  /** One round trip that proves the table answers; idempotent. */
  async ready(): Promise<void> {
    this.#lifecycle.assertOpen()
    await this.#table.read('')
  }

  async acquire(req: AcquireRequest): Promise<DriverLease | null> {
    this.#lifecycle.assertOpen()
    const key = rowKeyOf(req.key)
    return pollForGrant({
      attempt: async () => {
        const sentAtMs = performance.now()
        const result = await this.#table.insert(key, req.owner, req.ttlMs)
        if (!result.granted) return { lease: null, holderTtlMs: result.ttlRemainingMs + 1 }
        return {
          lease: this.#held.grant(
            req,
            { fence: result.fence, ttlMs: req.ttlMs, sentAtMs },
            undefined,
          ),
        }
      },
      waitMs: req.waitMs,
      signal: AbortSignal.any([req.signal, this.#lifecycle.signal]),
      maxMs: this.#pollMaxMs,
    })
  }

  async renew(lease: DriverLease, ttlMs: number): Promise<RenewResult> {
    this.#lifecycle.assertOpen()
    const ok = await this.#table.extend(rowKeyOf(lease.key), lease.owner, lease.fence, ttlMs)
    return ok ? { ok: true, ttlMs } : { ok: false }
  }

  async release(lease: DriverLease): Promise<boolean> {
    this.#lifecycle.assertOpen()
    this.#held.forget(lease)
    return this.#table.remove(rowKeyOf(lease.key), lease.owner, lease.fence)
  }

  async inspect(key: string): Promise<LockInfo | null> {
    this.#lifecycle.assertOpen()
    const row = await this.#table.read(rowKeyOf(key))
    if (row === undefined) return null
    const ttlRemainingMs = Math.max(0, Math.ceil(row.expiresAtMs - performance.now()))
    return { held: true, owner: row.owner, fence: row.fence, ttlRemainingMs }
  }

  close(): Promise<void> {
    return this.#lifecycle.close(async () => {
      const held = this.#held.drain()
      await Promise.all(
        held.map(({ lease }) => this.#table.remove(rowKeyOf(lease.key), lease.owner, lease.fence)),
      )
    })
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}
