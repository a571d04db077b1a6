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

/** Outcome of one grant attempt: the new fence, or how long the current holder has left. */
export type GrantResult =
  | { readonly granted: true; readonly fence: bigint }
  | { readonly granted: false; readonly remainingMs: number }

/*
 * Schema. `baton_leases` has one row per held key and loses it on release. `baton_fences`
 * keeps one counter per key ever locked: it survives release, restart and expiry, which
 * is what makes fencing durable within the file (the table grows with distinct keys).
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
`

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
  readonly #nextFence: SqlStatement
  readonly #upsertLease: SqlStatement
  readonly #extend: SqlStatement
  readonly #deleteOwned: SqlStatement
  readonly #deleteAny: SqlStatement
  readonly #selectAll: SqlStatement
  readonly #purgeExpired: SqlStatement
  readonly #grantTx: (key: string, owner: string, ttlMs: number) => GrantResult
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
    this.#nextFence = db.prepare(
      `INSERT INTO baton_fences (key, fence) VALUES (?, 1)
       ON CONFLICT (key) DO UPDATE SET fence = fence + 1 RETURNING fence`,
      fences,
    )
    this.#upsertLease = db.prepare(
      'INSERT OR REPLACE INTO baton_leases (key, owner, fence, expires_at) VALUES (?, ?, ?, ?)',
    )
    this.#extend = db.prepare(
      'UPDATE baton_leases SET expires_at = ? WHERE key = ? AND owner = ? AND expires_at > ?',
    )
    this.#deleteOwned = db.prepare(
      'DELETE FROM baton_leases WHERE key = ? AND owner = ? RETURNING expires_at',
    )
    this.#deleteAny = db.prepare('DELETE FROM baton_leases WHERE key = ? RETURNING expires_at')
    this.#selectAll = db.prepare(
      'SELECT key, owner, fence, expires_at FROM baton_leases WHERE expires_at > ? ORDER BY key',
      fences,
    )
    this.#purgeExpired = db.prepare('DELETE FROM baton_leases WHERE expires_at <= ?')

    // BEGIN IMMEDIATE takes the write lock before the read, so two processes can never
    // both see the key free (a deferred read-then-write would fail with SQLITE_BUSY_SNAPSHOT).
    this.#grantTx = db.immediate((key: string, owner: string, ttlMs: number): GrantResult => {
      const nowMs = Date.now()
      const held = this.#readRow(key)
      if (held !== undefined && held.expiresAtMs > nowMs) {
        return { granted: false, remainingMs: held.expiresAtMs - nowMs }
      }
      const fence = (this.#nextFence.get(key) as { fence: bigint }).fence
      this.#upsertLease.run(key, owner, fence, nowMs + ttlMs)
      return { granted: true, fence }
    })
    // One transaction (one write lock, one commit) renews every lease of a batch.
    this.#extendManyTx = db.immediate((leases: readonly LeaseKey[], ttlMs: number) =>
      leases.map((l) => this.extend(l.key, l.owner, ttlMs)),
    )
  }

  /** Current holder of `key`, or how long it still has; grants with the next fence if free or expired. */
  grant(key: string, owner: string, ttlMs: number): GrantResult {
    return this.#grantTx(key, owner, ttlMs)
  }

  /**
   * Cheap read-only check (no write lock; WAL readers never block): ms the current holder
   * has left, 0 when the key looks free. Only `grant` decides.
   */
  remainingMs(key: string): number {
    const row = this.#readRow(key)
    return row === undefined ? 0 : Math.max(0, row.expiresAtMs - Date.now())
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

  /** Deletes the owner's row (expired or not); true when it was still unexpired. */
  release(key: string, owner: string): boolean {
    const row = this.#deleteOwned.get(key, owner) as { expires_at: number | bigint } | undefined
    return row !== undefined && Number(row.expires_at) > Date.now()
  }

  /** Deletes whatever row the key has; true when a live lease was freed. */
  forceRelease(key: string): boolean {
    const row = this.#deleteAny.get(key) as { expires_at: number | bigint } | undefined
    return row !== undefined && Number(row.expires_at) > Date.now()
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

interface RawRow {
  key: string
  owner: string
  fence: bigint
  expires_at: bigint
}

function toLeaseRow(raw: RawRow): LeaseRow {
  return { key: raw.key, owner: raw.owner, fence: raw.fence, expiresAtMs: Number(raw.expires_at) }
}
