import { resolve } from 'node:path'
import {
  type AcquireRequest,
  type Capabilities,
  type DriverLease,
  DriverLifecycle,
  LeaseBook,
  type LockDriver,
  type LockInfo,
  type LockMode,
  pollForGrant,
  type RenewResult,
} from '@baton-lock/core/driver'
import type { LeaseRow, LeaseStore, Released } from './lease-store.js'
import { openLeaseStore } from './open-database.js'
import { NOT_QUEUED, type QueueName } from './queue-head.js'
import type { HolderSummary } from './shared-store.js'
import { SQLITE_CAPABILITIES } from './sqlite-capabilities.js'
import type { SqliteBinding } from './sqlite-connection.js'
import { type SqliteDriverOptions, sqlitePathOf } from './sqlite-options.js'
import { type HeldKind, type WaitPlan, waitPlan } from './wait-plan.js'
import { WakeChannel } from './wake-channel.js'

/**
 * The embedded default: leases in a local SQLite file, shared by every process on the
 * host that opens the same path, with no server. Each driver owns one connection.
 * An uncontended acquire is one autocommit statement and a release another. A request
 * that has to wait takes a ticket in the file's queue, so grants go in arrival order
 * across processes; a release wakes the head of the queue at once through a local socket
 * (see `WakeChannel`), and a bounded poll (capped by the holder's remaining lease) is the
 * backstop. The constructor opens the file: one it cannot use fails with a
 * `LockBackendError` naming the path and the reason, and no loadable SQLite binding with
 * a `LockUnsupportedError` saying what to install. Shared locks and semaphores use the
 * same queue, wake-ups and fences in tables of their own (see lease-schema.ts).
 */
export class SqliteDriver implements LockDriver {
  readonly name = 'sqlite'
  readonly capabilities: Capabilities = SQLITE_CAPABILITIES
  /** Absolute path of the database file. */
  readonly file: string
  /** The SQLite binding in use. */
  readonly binding: SqliteBinding
  readonly #store: LeaseStore
  readonly #pollMaxMs: number
  readonly #pollMinMs: number
  readonly #waiterTtlMs: number
  readonly #wakes = new WakeChannel()
  /** Tickets of this driver's waits in progress, so that close() takes them out of the queue. */
  readonly #queued = new Map<
    bigint,
    { readonly key: string; readonly owner: string; readonly queue: QueueName }
  >()
  readonly #held = new LeaseBook<HeldKind>()
  readonly #lifecycle = new DriverLifecycle('sqlite')

  /** A driver for `sqlite:PATH` URLs (`sqlite:///abs/path` too); `sqlite:` alone is `.baton/locks.db`. */
  static fromUrl(url: string): SqliteDriver {
    return new SqliteDriver({ path: sqlitePathOf(url) })
  }

  constructor(options: SqliteDriverOptions) {
    if (typeof options?.path !== 'string' || options.path === '') {
      throw new TypeError(
        `SqliteDriver: path must be a non-empty string, got ${String(options?.path)}`,
      )
    }
    this.file = options.path === ':memory:' ? ':memory:' : resolve(options.path)
    this.#pollMaxMs = options.pollMaxMs ?? 20
    this.#pollMinMs = Math.min(options.pollMinMs ?? 1, this.#pollMaxMs)
    this.#waiterTtlMs = options.waiterTtlMs ?? 2_000
    if (!(this.#waiterTtlMs >= 30)) {
      throw new RangeError(`SqliteDriver: waiterTtlMs must be >= 30, got ${options.waiterTtlMs}`)
    }
    this.#store = openLeaseStore(this.file, {
      binding: options.binding,
      busyTimeoutMs: options.busyTimeoutMs ?? 5_000,
      nativeBinding:
        options.nativeBinding ?? (process.env.BATON_SQLITE_NATIVE_BINDING || undefined),
      synchronous: options.synchronous ?? 'normal',
    })
    this.binding = this.#store.binding
  }

  /** Opens nothing: the file is open from construction; rejects once closed. */
  async ready(): Promise<void> {
    this.#lifecycle.assertOpen()
  }

  async acquire(req: AcquireRequest): Promise<DriverLease | null> {
    this.#lifecycle.assertOpen()
    if ((req.mode === undefined || req.mode === 'exclusive') && req.value === undefined) {
      // the mutex: one statement, as before the other modes existed
      const sentAtMs = performance.now()
      const fence = this.#store.grant(req.key, req.owner, req.ttlMs)
      if (fence !== undefined) {
        return this.#held.grant(req, { fence, ttlMs: req.ttlMs, sentAtMs }, 'exclusive')
      }
      if (!(req.waitMs > 0) || req.signal.aborted) return null
      return this.#wait(req, waitPlan(this.#store, req))
    }
    const plan = waitPlan(this.#store, req)
    const sentAtMs = performance.now()
    const fence = plan.grant(NOT_QUEUED)
    if (fence !== undefined) {
      return this.#held.grant(req, { fence, ttlMs: req.ttlMs, sentAtMs }, plan.kind)
    }
    if (!(req.waitMs > 0) || req.signal.aborted) return null
    return this.#wait(req, plan)
  }

  /**
   * A queued wait: a ticket in the file's queue, renewed while the waiter lives; tries only
   * when no older ticket waits and the holder's lease is gone (a WAL read decides when to
   * try, the grant itself re-checks both); sleeps until woken by the release or the poll.
   */
  async #wait(req: AcquireRequest, plan: WaitPlan): Promise<DriverLease | null> {
    const deadlineMs = performance.now() + req.waitMs
    const signal = AbortSignal.any([req.signal, this.#lifecycle.signal])
    const ttlMs = this.#waiterTtlMs
    const renewEveryMs = ttlMs / 3
    const enqueue = () => {
      const wake = this.#wakes.knownAddress ?? null
      const seq = this.#store.enqueue(req.key, req.owner, ttlMs, wake, plan.mode)
      this.#wakes.register(seq)
      this.#queued.set(seq, { key: req.key, owner: req.owner, queue: plan.queue })
      return seq
    }
    const unqueue = (seq: bigint) => {
      this.#wakes.unregister(seq)
      this.#queued.delete(seq)
    }
    // queue at once, in arrival order; the first wait of a driver starts its channel and
    // adds the address to the ticket when it listens (a release meanwhile is seen by polling)
    let ticket = enqueue()
    let renewedAtMs = performance.now()
    // woken by a release (or the grant before ours): the key is likely free, so try at once
    let pushed = false
    let lease: DriverLease | null = null
    try {
      if (this.#wakes.knownAddress === undefined) {
        const address = await this.#wakes.address()
        if (address !== null && !signal.aborted) this.#store.setWake(ticket, req.owner, address)
      }
      lease = await pollForGrant({
        attempt: async () => {
          if (performance.now() - renewedAtMs >= renewEveryMs) {
            // a waiter too slow to renew lost its place: it queues again, at the back
            if (!this.#store.refresh(ticket, req.owner, ttlMs)) {
              unqueue(ticket)
              ticket = enqueue()
            }
            renewedAtMs = performance.now()
          }
          if (!pushed) {
            // a WAL read: no write lock taken while the holder or an older ticket is in the way
            const view = plan.view(ticket)
            if (view.remainingMs > 0) return { lease: null, holderTtlMs: view.remainingMs }
            if (view.behind) return { lease: null }
          }
          pushed = false
          const sentAtMs = performance.now()
          const fence = plan.grant(ticket)
          if (fence === undefined) return { lease: null }
          // a reader admitted from the queue lets the readers behind it in; a permit, the next waiter try
          this.#wakes.send(plan.cascade())
          return {
            lease: this.#held.grant(req, { fence, ttlMs: req.ttlMs, sentAtMs }, plan.kind),
          }
        },
        waitMs: deadlineMs - performance.now(),
        signal,
        minMs: Math.min(this.#pollMinMs, renewEveryMs),
        maxMs: Math.min(this.#pollMaxMs, renewEveryMs),
        pause: async (ms, s) => {
          pushed = await this.#wakes.sleep(ticket, ms, s)
        },
      })
      return lease
    } finally {
      // granted: the grant dropped the ticket; otherwise give the place up, and wake the
      // next in line (the key may be free and nobody else told); when the driver is
      // closing, close() does that for every ticket left before it closes the file
      this.#wakes.unregister(ticket)
      if (lease !== null || !this.#lifecycle.closing) this.#queued.delete(ticket)
      if (lease === null && !this.#lifecycle.closing) {
        this.#wakes.send(this.#store.leave(req.key, ticket, req.owner, plan.queue))
      }
    }
  }

  async renew(lease: DriverLease, ttlMs: number): Promise<RenewResult> {
    this.#lifecycle.assertOpen()
    const mode = tableOf(this.#held.get(lease)?.data)
    if (this.#store.extendAny(mode, lease.key, lease.owner, ttlMs)) return { ok: true, ttlMs }
    this.#lapsed(lease)
    return { ok: false }
  }

  async renewMany(leases: readonly DriverLease[], ttlMs: number): Promise<RenewResult[]> {
    this.#lifecycle.assertOpen()
    const confirmed = this.#store.extendMany(
      leases.map((l) => ({ mode: tableOf(this.#held.get(l)?.data), key: l.key, owner: l.owner })),
      ttlMs,
    )
    return confirmed.map((ok, i) => {
      if (ok) return { ok: true, ttlMs }
      this.#lapsed(leases[i] as DriverLease)
      return { ok: false }
    })
  }

  async release(lease: DriverLease): Promise<boolean> {
    this.#lifecycle.assertOpen()
    return this.#release(lease, this.#held.forget(lease)?.data)
  }

  /**
   * Forgets a lease whose renewal failed. A shared or permit row of ours that expired is
   * deleted (owner-checked; nobody else may take it over in place, unlike the mutex's row,
   * which the next holder overwrites), so the rows of lapsed holders do not pile up.
   */
  #lapsed(lease: DriverLease): void {
    const kind = this.#held.forget(lease)?.data
    if (kind === 'shared' || kind === 'semaphore') this.#release(lease, kind)
  }

  /** Deletes the lease's row in the table of its kind (unknown: every table, by owner); wakes its queue. */
  #release(lease: DriverLease, kind: HeldKind | undefined): boolean {
    const { key, owner } = lease
    if (kind === 'exclusive') return this.#woke(this.#store.release(key, owner))
    if (kind === 'shared') return this.#woke(this.#store.shared.release(key, owner))
    if (kind === 'semaphore') return this.#woke(this.#store.permits.release(key, owner))
    const freed = this.#woke(this.#store.release(key, owner))
    this.#store.dropValue(key, owner)
    if (kind === 'election') return freed
    // not in the book (already released or lost): whichever table has the owner
    return (
      this.#woke(this.#store.shared.release(key, owner)) ||
      this.#woke(this.#store.permits.release(key, owner)) ||
      freed
    )
  }

  async inspect(key: string, mode?: LockMode): Promise<LockInfo | null> {
    this.#lifecycle.assertOpen()
    if (mode === 'semaphore') {
      const permits = this.#store.permits.read(key)
      if (permits === undefined) return null
      return { ...summaryInfo(permits, 'semaphore'), limit: permits.limit }
    }
    const row = this.#store.read(key)
    if (row !== undefined) {
      const value = this.#store.value(key, row.owner)
      return value === undefined ? toInfo(row) : { ...toInfo(row), value }
    }
    const shared = this.#store.shared.read(key)
    return shared === undefined ? null : summaryInfo(shared, 'shared')
  }

  async list(prefix: string): Promise<Array<LockInfo & { readonly key: string }>> {
    this.#lifecycle.assertOpen()
    const exclusive = this.#store.list().map((row) => ({ key: row.key, ...toInfo(row) }))
    const shared = this.#store.shared
      .list()
      .map((row) => ({ key: row.key, ...summaryInfo(row, 'shared') }))
    return [...exclusive, ...shared]
      .filter((row) => row.key.startsWith(prefix))
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
  }

  async forceRelease(key: string): Promise<boolean> {
    this.#lifecycle.assertOpen()
    return this.#woke(this.#store.forceRelease(key))
  }

  /** Ends every wait, deletes the rows of leases still held, closes the connection; idempotent. */
  close(): Promise<void> {
    return this.#lifecycle.close(async () => {
      try {
        for (const { lease, data } of this.#held.drain()) this.#release(lease, data)
        for (const [ticket, { key, owner, queue }] of this.#queued) {
          this.#wakes.send(this.#store.leave(key, ticket, owner, queue))
        }
        this.#queued.clear()
      } finally {
        this.#wakes.close()
        this.#store.close()
      }
    })
  }

  /** Wakes the head of the released key's queue; whether a live lease was freed. */
  #woke(released: Released): boolean {
    this.#wakes.send(released.head)
    return released.freed
  }
}

/** The table a lease of `kind` lives in (not in the book: the mutex's, where a renewal of a gone lease fails). */
function tableOf(kind: HeldKind | undefined): 'exclusive' | 'shared' | 'semaphore' {
  return kind === undefined || kind === 'election' ? 'exclusive' : kind
}

function toInfo(row: LeaseRow): LockInfo {
  return {
    held: true,
    fence: row.fence,
    owner: row.owner,
    ttlRemainingMs: Math.max(0, row.expiresAtMs - Date.now()),
    mode: 'exclusive',
    holders: 1,
  }
}

function summaryInfo(summary: HolderSummary, mode: LockMode): LockInfo {
  return {
    held: true,
    fence: summary.fence,
    owner: summary.owner,
    ttlRemainingMs: Math.max(0, summary.expiresAtMs - Date.now()),
    mode,
    holders: summary.holders,
  }
}
