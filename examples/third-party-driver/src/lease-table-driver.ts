import type {
  AcquireRequest,
  Capabilities,
  DriverLease,
  LockDriver,
  LockInfo,
  RenewResult,
} from '@baton-lock/core'
import { Backoff, defineCapabilities, sleep } from '@baton-lock/core/driver'
import type { LeaseTable } from './lease-table.js'

/** Options of a `LeaseTableDriver`. */
export interface LeaseTableDriverOptions {
  /** The lease service to talk to; several drivers sharing it exclude each other. */
  readonly table: LeaseTable
  /** Longest pause between two polls of a held key, in ms. Default 50. */
  readonly pollMaxMs?: number
}

// The table has no push channel and cannot tell a holder that its row vanished, so the
// driver polls (nativeWait: false) and core learns of loss by failed renewals (lossSignal: false).
const CAPABILITIES = defineCapabilities({
  expiry: 'lease',
  ttlResolutionMs: 1,
  fencing: 'volatile',
  inspect: true,
})

/**
 * A Baton driver for `LeaseTable`, written only against the public `@baton-lock/core` API:
 * insert-if-absent to acquire, compare-and-extend to renew, compare-and-delete to release,
 * and a bounded-backoff poll, capped by the holder's remaining lease, to wait.
 */
export class LeaseTableDriver implements LockDriver {
  readonly name = 'lease-table'
  readonly capabilities: Capabilities = CAPABILITIES
  readonly #table: LeaseTable
  readonly #pollMaxMs: number
  /** Leases granted and not yet released: close() gives them back. */
  readonly #held = new Set<DriverLease>()
  /** Never aborted: the table gives no evidence of loss (lossSignal: false). */
  readonly #lost = new AbortController().signal
  #closed = false

  constructor(options: LeaseTableDriverOptions) {
    this.#table = options.table
    this.#pollMaxMs = options.pollMaxMs ?? 50
  }

  async acquire(req: AcquireRequest): Promise<DriverLease | null> {
    this.#assertOpen()
    const backoff = new Backoff({ minMs: 1, maxMs: this.#pollMaxMs })
    const deadlineMs = performance.now() + req.waitMs
    for (;;) {
      if (req.signal.aborted) return null
      const sentAtMs = performance.now()
      const result = await this.#table.insert(req.key, req.owner, req.ttlMs)
      if (result.granted) {
        const lease = {
          key: req.key,
          owner: req.owner,
          fence: result.fence,
          ttlMs: req.ttlMs,
          sentAtMs,
          lost: this.#lost,
        }
        // Granted after the caller gave up: give it back rather than leave a phantom (S4).
        if (req.signal.aborted) {
          await this.#table.remove(lease.key, lease.owner, lease.fence)
          return null
        }
        this.#held.add(lease)
        return lease
      }
      const leftMs = deadlineMs - performance.now()
      if (leftMs <= 0) return null
      await sleep(Math.min(backoff.next(result.ttlRemainingMs + 1), leftMs), req.signal)
    }
  }

  async renew(lease: DriverLease, ttlMs: number): Promise<RenewResult> {
    this.#assertOpen()
    const ok = await this.#table.extend(lease.key, lease.owner, lease.fence, ttlMs)
    return ok ? { ok: true, ttlMs } : { ok: false }
  }

  async release(lease: DriverLease): Promise<boolean> {
    this.#assertOpen()
    this.#held.delete(lease)
    return this.#table.remove(lease.key, lease.owner, lease.fence)
  }

  async inspect(key: string): Promise<LockInfo | null> {
    this.#assertOpen()
    const row = await this.#table.read(key)
    if (row === undefined) return null
    const ttlRemainingMs = Math.max(0, Math.ceil(row.expiresAtMs - performance.now()))
    return { held: true, owner: row.owner, fence: row.fence, ttlRemainingMs }
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    const held = [...this.#held]
    this.#held.clear()
    await Promise.all(held.map((l) => this.#table.remove(l.key, l.owner, l.fence)))
  }

  #assertOpen(): void {
    if (this.#closed) throw new Error('lease-table driver is closed')
  }
}
