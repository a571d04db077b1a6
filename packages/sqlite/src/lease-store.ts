import { applySchema } from './lease-schema.js'
import { PermitStore } from './permit-store.js'
import {
  headSql,
  NOT_QUEUED,
  parseHead,
  type QueueHead,
  type QueueName,
  type QueueView,
  type Released,
  released,
} from './queue-head.js'
import { SharedStore } from './shared-store.js'
import type { SqliteBinding, SqliteConnection, SqlStatement } from './sqlite-connection.js'

export type { QueueHead, QueueView, Released } from './queue-head.js'

/** A row of the lease table as the store reports it. */
export interface LeaseRow {
  readonly key: string
  readonly owner: string
  readonly fence: bigint
  /** Wall-clock ms (`Date.now()`) at which other processes consider the lease expired. */
  readonly expiresAtMs: number
}

/** What identifies a lease in its table. */
export interface ModedLease {
  readonly mode: TicketMode
  readonly key: string
  readonly owner: string
}

/** The mode a ticket waits for. */
export type TicketMode = 'exclusive' | 'shared' | 'semaphore'

/**
 * The SQL side of the driver: prepared statements over one connection, each mutation in
 * a `BEGIN IMMEDIATE` transaction so that check-and-write is atomic across processes.
 * All methods are synchronous (on either binding); each holds the write lock for microseconds.
 */
export class LeaseStore {
  /** The binding behind the connection. */
  readonly binding: SqliteBinding
  /** Shared (read) holders of the same keys, in the same file. */
  readonly shared: SharedStore
  /** Semaphore permits, a resource apart from the locks. */
  readonly permits: PermitStore
  readonly #db: SqliteConnection
  readonly #select: SqlStatement
  readonly #grant: SqlStatement
  readonly #view: SqlStatement
  readonly #extend: SqlStatement
  readonly #deleteOwned: SqlStatement
  readonly #deleteAny: SqlStatement
  readonly #heads: Record<QueueName, SqlStatement>
  readonly #setValue: SqlStatement
  readonly #dropValues: SqlStatement
  readonly #dropValue: SqlStatement
  readonly #readValue: SqlStatement
  readonly #enqueue: SqlStatement
  readonly #purgeWaiters: SqlStatement
  readonly #refresh: SqlStatement
  readonly #leave: SqlStatement
  readonly #setWake: SqlStatement
  readonly #selectAll: SqlStatement
  readonly #purgeExpired: SqlStatement
  readonly #enqueueTx: (
    key: string,
    owner: string,
    ttlMs: number,
    wake: string | null,
    mode: TicketMode,
  ) => bigint
  readonly #grantWithValueTx: (
    key: string,
    owner: string,
    ttlMs: number,
    ticket: bigint,
    value: string,
  ) => bigint | undefined
  readonly #extendManyTx: (leases: readonly ModedLease[], ttlMs: number) => boolean[]

  constructor(db: SqliteConnection) {
    this.#db = db
    this.binding = db.binding
    applySchema(db)
    this.shared = new SharedStore(db)
    this.permits = new PermitStore(db)
    const fences = { bigInts: true }
    this.#select = db.prepare(
      'SELECT key, owner, fence, expires_at FROM baton_leases WHERE key = ?',
      fences,
    )
    // One autocommit statement (one write transaction): take the row if it is absent or
    // expired, no older live lock ticket waits and no live shared holder has it, with the
    // next fence; the triggers record the fence and drop the new holder's ticket.
    // Parameters: key, owner, key, expires_at, key, ticket, now, key, now, now.
    this.#grant = db.prepare(
      `INSERT INTO baton_leases (key, owner, fence, expires_at)
       SELECT ?, ?, coalesce((SELECT fence FROM baton_fences WHERE key = ?), 0) + 1, ?
       WHERE NOT EXISTS (
         SELECT 1 FROM baton_waiters
         WHERE key = ? AND seq < ? AND expires_at > ? AND mode <> 'semaphore')
       AND NOT EXISTS (SELECT 1 FROM baton_shared WHERE key = ? AND expires_at > ?)
       ON CONFLICT (key) DO UPDATE SET
         owner = excluded.owner, fence = excluded.fence, expires_at = excluded.expires_at
       WHERE baton_leases.expires_at <= ?
       RETURNING fence`,
      fences,
    )
    // A WAL read (no write lock): when the holders (exclusive or shared) expire at the
    // latest, and whether an older lock ticket waits.
    this.#view = db.prepare(
      `SELECT max(coalesce((SELECT expires_at FROM baton_leases WHERE key = ?), 0),
           coalesce((SELECT max(expires_at) FROM baton_shared WHERE key = ?), 0)) AS expires_at,
         EXISTS (SELECT 1 FROM baton_waiters
           WHERE key = ? AND seq < ? AND expires_at > ? AND mode <> 'semaphore') AS behind`,
      fences,
    )
    this.#extend = db.prepare(
      'UPDATE baton_leases SET expires_at = ? WHERE key = ? AND owner = ? AND expires_at > ?',
    )
    // The release and the look-up of whom to wake are one statement.
    const head = headSql('lock')
    this.#deleteOwned = db.prepare(
      `DELETE FROM baton_leases WHERE key = ? AND owner = ? RETURNING expires_at, ${head} AS head`,
    )
    this.#deleteAny = db.prepare(
      `DELETE FROM baton_leases WHERE key = ? RETURNING expires_at, ${head} AS head`,
    )
    this.#heads = {
      lock: db.prepare(`SELECT ${head} AS head`),
      semaphore: db.prepare(`SELECT ${headSql('semaphore')} AS head`),
    }
    this.#setValue = db.prepare('INSERT INTO baton_values (key, owner, value) VALUES (?, ?, ?)')
    this.#dropValues = db.prepare('DELETE FROM baton_values WHERE key = ?')
    this.#dropValue = db.prepare('DELETE FROM baton_values WHERE key = ? AND owner = ?')
    this.#readValue = db.prepare('SELECT value FROM baton_values WHERE key = ? AND owner = ?')
    this.#purgeWaiters = db.prepare('DELETE FROM baton_waiters WHERE key = ? AND expires_at <= ?')
    this.#enqueue = db.prepare(
      'INSERT INTO baton_waiters (key, owner, expires_at, wake, mode) VALUES (?, ?, ?, ?, ?) RETURNING seq',
      fences,
    )
    this.#refresh = db.prepare(
      'UPDATE baton_waiters SET expires_at = ? WHERE seq = ? AND owner = ? AND expires_at > ?',
    )
    this.#leave = db.prepare('DELETE FROM baton_waiters WHERE seq = ? AND owner = ?')
    this.#setWake = db.prepare('UPDATE baton_waiters SET wake = ? WHERE seq = ? AND owner = ?')
    this.#selectAll = db.prepare(
      'SELECT key, owner, fence, expires_at FROM baton_leases WHERE expires_at > ? ORDER BY key',
      fences,
    )
    this.#purgeExpired = db.prepare('DELETE FROM baton_leases WHERE expires_at <= ?')

    // Taking a ticket also drops the key's dead tickets (their waiters stopped renewing them).
    this.#enqueueTx = db.immediate(
      (
        key: string,
        owner: string,
        ttlMs: number,
        wake: string | null,
        mode: TicketMode,
      ): bigint => {
        const nowMs = Date.now()
        this.#purgeWaiters.run(key, nowMs)
        const row = this.#enqueue.get(key, owner, nowMs + ttlMs, wake, mode) as { seq: bigint }
        return row.seq
      },
    )
    // One transaction (one write lock, one commit) renews every lease of a batch.
    this.#extendManyTx = db.immediate((leases: readonly ModedLease[], ttlMs: number) =>
      leases.map((l) => this.extendAny(l.mode, l.key, l.owner, ttlMs)),
    )
    // An election's grant: the lease and its value in one transaction (other owners'
    // values of the key are stale: their leases are gone).
    this.#grantWithValueTx = db.immediate(
      (key: string, owner: string, ttlMs: number, ticket: bigint, value: string) => {
        const fence = this.grant(key, owner, ttlMs, ticket)
        if (fence !== undefined) {
          this.#dropValues.run(key)
          this.#setValue.run(key, owner, value)
        }
        return fence
      },
    )
  }

  /**
   * Takes `key` for `owner` with the next fence if it is free or expired and no live ticket
   * older than `ticket` waits (no ticket: any live ticket is older); undefined otherwise.
   */
  grant(
    key: string,
    owner: string,
    ttlMs: number,
    ticket: bigint = NOT_QUEUED,
  ): bigint | undefined {
    const nowMs = Date.now()
    const row = this.#grant.get(
      key,
      owner,
      key,
      nowMs + ttlMs,
      key,
      ticket,
      nowMs,
      key,
      nowMs,
      nowMs,
    ) as { fence: bigint } | undefined
    return row?.fence
  }

  /** `grant` that also stores the holder's advertised value (elections). */
  grantWithValue(
    key: string,
    owner: string,
    ttlMs: number,
    ticket: bigint,
    value: string,
  ): bigint | undefined {
    return this.#grantWithValueTx(key, owner, ttlMs, ticket, value)
  }

  /** What the holder of `ticket` sees before trying (a WAL read, no write lock). */
  view(key: string, ticket: bigint = NOT_QUEUED): QueueView {
    const nowMs = Date.now()
    const row = this.#view.get(key, key, key, ticket, nowMs) as {
      expires_at: bigint | null
      behind: bigint
    }
    const expiresAtMs = row.expires_at === null ? 0 : Number(row.expires_at)
    return { remainingMs: Math.max(0, expiresAtMs - nowMs), behind: row.behind !== 0n }
  }

  /** Queues `owner` for `key` in `mode`: a ticket that lives `ttlMs` unless refreshed; its `seq`. */
  enqueue(
    key: string,
    owner: string,
    ttlMs: number,
    wake: string | null,
    mode: TicketMode = 'exclusive',
  ): bigint {
    return this.#enqueueTx(key, owner, ttlMs, wake, mode)
  }

  /** Pushes a live ticket's expiry to `ttlMs` from now; false when it expired or is gone. */
  refresh(ticket: bigint, owner: string, ttlMs: number): boolean {
    const nowMs = Date.now()
    return this.#refresh.run(nowMs + ttlMs, ticket, owner, nowMs) > 0
  }

  /** Records where the waiter of a ticket listens (known only after it queued). */
  setWake(ticket: bigint, owner: string, wake: string): void {
    this.#setWake.run(wake, ticket, owner)
  }

  /** Drops a ticket (the waiter gave up); the new head of the key's `queue`, if any. */
  leave(
    key: string,
    ticket: bigint,
    owner: string,
    queue: QueueName = 'lock',
  ): QueueHead | undefined {
    this.#leave.run(ticket, owner)
    return parseHead((this.#heads[queue].get(key, Date.now()) as { head: string | null }).head)
  }

  /** Pushes the expiry to `ttlMs` from now if `owner` still holds an unexpired lease. */
  extend(key: string, owner: string, ttlMs: number): boolean {
    const nowMs = Date.now()
    return this.#extend.run(nowMs + ttlMs, key, owner, nowMs) > 0
  }

  /** `extend` of the table of `mode`. */
  extendAny(mode: TicketMode, key: string, owner: string, ttlMs: number): boolean {
    if (mode === 'exclusive') return this.extend(key, owner, ttlMs)
    return (mode === 'shared' ? this.shared : this.permits).extend(key, owner, ttlMs)
  }

  /** `extend` for many leases of any mode in one transaction; results in the order of `leases`. */
  extendMany(leases: readonly ModedLease[], ttlMs: number): boolean[] {
    return this.#extendManyTx(leases, ttlMs)
  }

  /** Deletes the owner's row (expired or not); freed when it was still unexpired; the queue's head. */
  release(key: string, owner: string): Released {
    const nowMs = Date.now()
    return released(this.#deleteOwned.get(key, owner, key, nowMs), nowMs)
  }

  /** Drops the owner's stored value (an election's lease was released). */
  dropValue(key: string, owner: string): void {
    this.#dropValue.run(key, owner)
  }

  /** The value `owner` stored with its lease on `key`, if any. */
  value(key: string, owner: string): string | undefined {
    return (this.#readValue.get(key, owner) as { value: string } | undefined)?.value
  }

  /** Deletes whatever exclusive row and shared rows the key has; freed when a live lease was freed; the queue's head. */
  forceRelease(key: string): Released {
    const nowMs = Date.now()
    const exclusive = released(this.#deleteAny.get(key, key, nowMs), nowMs)
    this.#dropValues.run(key)
    const shared = this.shared.releaseAll(key)
    return { freed: exclusive.freed || shared.freed, head: shared.head ?? exclusive.head }
  }

  /** The live lease on `key`, if any. */
  read(key: string): LeaseRow | undefined {
    const row = this.#readRow(key)
    return row !== undefined && row.expiresAtMs > Date.now() ? row : undefined
  }

  /** Every live lease, ordered by key. */
  list(): LeaseRow[] {
    return (this.#selectAll.all(Date.now()) as unknown as RawRow[]).map(toLeaseRow)
  }

  /** Removes rows whose holders went silent (their keys are free anyway), in every mode. */
  purgeExpired(): number {
    const nowMs = Date.now()
    return (
      this.#purgeExpired.run(nowMs) +
      this.shared.purgeExpired(nowMs) +
      this.permits.purgeExpired(nowMs)
    )
  }

  /** Closes the connection. */
  close(): void {
    this.#db.close()
  }

  #readRow(key: string): LeaseRow | undefined {
    const raw = this.#select.get(key) as RawRow | undefined
    return raw === undefined ? undefined : toLeaseRow(raw)
  }
}

interface RawRow {
  key: string
  owner: string
  fence: bigint
  expires_at: bigint
}

function toLeaseRow(raw: RawRow): LeaseRow {
  return { key: raw.key, owner: raw.owner, fence: raw.fence, expiresAtMs: Number(raw.expires_at) }
}
