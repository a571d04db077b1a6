import type { SqliteBinding, SqliteConnection, SqlStatement } from './sqlite-connection.js'

/** A row of the lease table as the store reports it. */
export interface LeaseRow {
  readonly key: string
  readonly owner: string
  readonly fence: bigint
  /** Wall-clock ms (`Date.now()`) at which other processes consider the lease expired. */
  readonly expiresAtMs: number
}

/** What identifies a lease in the table. */
export interface LeaseKey {
  readonly key: string
  readonly owner: string
}

/** What a waiter sees before it tries: how long the holder has left, and whether a live ticket is older than its own. */
export interface QueueView {
  /** Ms the current holder has left; 0 when the key is free or its lease expired. */
  readonly remainingMs: number
  /** True when a live ticket older than the caller's waits for the same key. */
  readonly behind: boolean
}

/** The head of a key's queue: the ticket to wake, and where its process listens (null: nowhere). */
export interface QueueHead {
  readonly seq: bigint
  readonly wake: string | null
}

/** Outcome of a release: whether a live lease was freed, and whom to wake. */
export interface Released {
  readonly freed: boolean
  readonly head: QueueHead | undefined
}

/*
 * Schema. `baton_leases` has one row per held key and loses it on release. `baton_fences`
 * keeps one counter per key ever locked: it survives release, restart and expiry, which
 * is what makes fencing durable within the file (the table grows with distinct keys).
 *
 * `baton_waiters` is the queue: one ticket per waiting request, in arrival order (`seq`),
 * with its own wall-clock expiry that the waiter keeps pushing forward while it lives, and
 * the address of its process's wake socket. A grant skips nobody: it only succeeds when no
 * live ticket of the key is older than the caller's (a request that is not queued is
 * younger than every ticket). The triggers keep the grant one statement: inserting or
 * re-fencing a lease row records its fence in `baton_fences` (never lowering it, so a
 * process running an older release that writes `baton_fences` itself agrees) and drops
 * the new holder's ticket.
 *
 * `expires_at` is WALL-CLOCK time (Date.now(), ms since the epoch). Expiry must be judged
 * by every process that opens the file, and the monotonic clock (performance.now()) has a
 * different origin in each process, so it cannot be stored. Core still decides a
 * holder's own validity on its monotonic clock; the wall clock only decides when OTHER
 * processes may take an unrenewed lease. A wall-clock jump forward by X ms therefore
 * lets another process take a lease up to X ms before the holder's own validity ends.
 */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS baton_leases (
  key        TEXT    NOT NULL PRIMARY KEY,
  owner      TEXT    NOT NULL,
  fence      INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS baton_fences (
  key   TEXT    NOT NULL PRIMARY KEY,
  fence INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS baton_waiters (
  seq        INTEGER PRIMARY KEY,
  key        TEXT    NOT NULL,
  owner      TEXT    NOT NULL,
  expires_at INTEGER NOT NULL,
  wake       TEXT
);
CREATE INDEX IF NOT EXISTS baton_waiters_by_key ON baton_waiters (key, seq);
CREATE TRIGGER IF NOT EXISTS baton_granted_insert AFTER INSERT ON baton_leases BEGIN
  INSERT INTO baton_fences (key, fence) VALUES (new.key, new.fence)
    ON CONFLICT (key) DO UPDATE SET fence = max(fence, excluded.fence);
  DELETE FROM baton_waiters WHERE key = new.key AND owner = new.owner;
END;
CREATE TRIGGER IF NOT EXISTS baton_granted_update AFTER UPDATE OF fence ON baton_leases BEGIN
  INSERT INTO baton_fences (key, fence) VALUES (new.key, new.fence)
    ON CONFLICT (key) DO UPDATE SET fence = max(fence, excluded.fence);
  DELETE FROM baton_waiters WHERE key = new.key AND owner = new.owner;
END;
`

/** The ticket of a request that is not queued: every live waiter is ahead of it. */
const NOT_QUEUED = 9_223_372_036_854_775_807n

/**
 * The SQL side of the driver: prepared statements over one connection, each mutation in
 * a `BEGIN IMMEDIATE` transaction so that check-and-write is atomic across processes.
 * All methods are synchronous (on either binding); each holds the write lock for microseconds.
 */
export class LeaseStore {
  /** The binding behind the connection. */
  readonly binding: SqliteBinding
  readonly #db: SqliteConnection
  readonly #select: SqlStatement
  readonly #grant: SqlStatement
  readonly #view: SqlStatement
  readonly #extend: SqlStatement
  readonly #deleteOwned: SqlStatement
  readonly #deleteAny: SqlStatement
  readonly #head: SqlStatement
  readonly #enqueue: SqlStatement
  readonly #purgeWaiters: SqlStatement
  readonly #refresh: SqlStatement
  readonly #leave: SqlStatement
  readonly #setWake: SqlStatement
  readonly #selectAll: SqlStatement
  readonly #purgeExpired: SqlStatement
  readonly #enqueueTx: (key: string, owner: string, ttlMs: number, wake: string | null) => bigint
  readonly #extendManyTx: (leases: readonly LeaseKey[], ttlMs: number) => boolean[]

  constructor(db: SqliteConnection) {
    this.#db = db
    this.binding = db.binding
    db.exec(SCHEMA)
    const fences = { bigInts: true }
    this.#select = db.prepare(
      'SELECT key, owner, fence, expires_at FROM baton_leases WHERE key = ?',
      fences,
    )
    // One autocommit statement (one write transaction): take the row if it is absent or
    // expired and no older live ticket waits, with the next fence; the triggers record the
    // fence and drop the new holder's ticket. Parameters: key, owner, expires_at, key,
    // key, ticket, now, now.
    this.#grant = db.prepare(
      `INSERT INTO baton_leases (key, owner, fence, expires_at)
       SELECT ?, ?, coalesce((SELECT fence FROM baton_fences WHERE key = ?), 0) + 1, ?
       WHERE NOT EXISTS (
         SELECT 1 FROM baton_waiters WHERE key = ? AND seq < ? AND expires_at > ?)
       ON CONFLICT (key) DO UPDATE SET
         owner = excluded.owner, fence = excluded.fence, expires_at = excluded.expires_at
       WHERE baton_leases.expires_at <= ?
       RETURNING fence`,
      fences,
    )
    // A WAL read (no write lock): the holder's expiry and whether an older ticket waits.
    this.#view = db.prepare(
      `SELECT (SELECT expires_at FROM baton_leases WHERE key = ?) AS expires_at,
         EXISTS (SELECT 1 FROM baton_waiters WHERE key = ? AND seq < ? AND expires_at > ?) AS behind`,
      fences,
    )
    this.#extend = db.prepare(
      'UPDATE baton_leases SET expires_at = ? WHERE key = ? AND owner = ? AND expires_at > ?',
    )
    // The release and the look-up of whom to wake are one statement.
    const head =
      "(SELECT seq || ' ' || coalesce(wake, '') FROM baton_waiters WHERE key = ? AND expires_at > ? ORDER BY seq LIMIT 1)"
    this.#deleteOwned = db.prepare(
      `DELETE FROM baton_leases WHERE key = ? AND owner = ? RETURNING expires_at, ${head} AS head`,
    )
    this.#deleteAny = db.prepare(
      `DELETE FROM baton_leases WHERE key = ? RETURNING expires_at, ${head} AS head`,
    )
    this.#head = db.prepare(`SELECT ${head} AS head`)
    this.#purgeWaiters = db.prepare('DELETE FROM baton_waiters WHERE key = ? AND expires_at <= ?')
    this.#enqueue = db.prepare(
      'INSERT INTO baton_waiters (key, owner, expires_at, wake) VALUES (?, ?, ?, ?) RETURNING seq',
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
      (key: string, owner: string, ttlMs: number, wake: string | null): bigint => {
        const nowMs = Date.now()
        this.#purgeWaiters.run(key, nowMs)
        const row = this.#enqueue.get(key, owner, nowMs + ttlMs, wake) as { seq: bigint }
        return row.seq
      },
    )
    // One transaction (one write lock, one commit) renews every lease of a batch.
    this.#extendManyTx = db.immediate((leases: readonly LeaseKey[], ttlMs: number) =>
      leases.map((l) => this.extend(l.key, l.owner, ttlMs)),
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
    const row = this.#grant.get(key, owner, key, nowMs + ttlMs, key, ticket, nowMs, nowMs) as
      | { fence: bigint }
      | undefined
    return row?.fence
  }

  /** What the holder of `ticket` sees before trying (a WAL read, no write lock). */
  view(key: string, ticket: bigint = NOT_QUEUED): QueueView {
    const nowMs = Date.now()
    const row = this.#view.get(key, key, ticket, nowMs) as {
      expires_at: bigint | null
      behind: bigint
    }
    const expiresAtMs = row.expires_at === null ? 0 : Number(row.expires_at)
    return { remainingMs: Math.max(0, expiresAtMs - nowMs), behind: row.behind !== 0n }
  }

  /** Queues `owner` for `key`: a ticket that lives `ttlMs` unless refreshed; its `seq`. */
  enqueue(key: string, owner: string, ttlMs: number, wake: string | null): bigint {
    return this.#enqueueTx(key, owner, ttlMs, wake)
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

  /** Drops a ticket (the waiter gave up); the new head of the key, if any. */
  leave(key: string, ticket: bigint, owner: string): QueueHead | undefined {
    this.#leave.run(ticket, owner)
    return parseHead((this.#head.get(key, Date.now()) as { head: string | null }).head)
  }

  /** Pushes the expiry to `ttlMs` from now if `owner` still holds an unexpired lease. */
  extend(key: string, owner: string, ttlMs: number): boolean {
    const nowMs = Date.now()
    return this.#extend.run(nowMs + ttlMs, key, owner, nowMs) > 0
  }

  /** `extend` for many leases in one transaction; results in the order of `leases`. */
  extendMany(leases: readonly LeaseKey[], ttlMs: number): boolean[] {
    return this.#extendManyTx(leases, ttlMs)
  }

  /** Deletes the owner's row (expired or not); freed when it was still unexpired; the queue's head. */
  release(key: string, owner: string): Released {
    const nowMs = Date.now()
    return released(this.#deleteOwned.get(key, owner, key, nowMs), nowMs)
  }

  /** Deletes whatever row the key has; freed when a live lease was freed; the queue's head. */
  forceRelease(key: string): Released {
    const nowMs = Date.now()
    return released(this.#deleteAny.get(key, key, nowMs), nowMs)
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

  /** Removes rows whose holders went silent (their keys are free anyway). */
  purgeExpired(): number {
    return this.#purgeExpired.run(Date.now())
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

function released(row: Record<string, unknown> | undefined, nowMs: number): Released {
  if (row === undefined) return NOTHING_RELEASED
  const { expires_at, head } = row as { expires_at: number | bigint; head: string | null }
  return { freed: Number(expires_at) > nowMs, head: parseHead(head) }
}

const NOTHING_RELEASED: Released = Object.freeze({ freed: false, head: undefined })

/** `'12 @addr'` (seq, space, wake address or nothing) as a queue head. */
function parseHead(head: string | null | undefined): QueueHead | undefined {
  if (head === null || head === undefined) return undefined
  const space = head.indexOf(' ')
  const wake = head.slice(space + 1)
  return { seq: BigInt(head.slice(0, space)), wake: wake === '' ? null : wake }
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
