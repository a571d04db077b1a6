import {
  headSql,
  NOT_QUEUED,
  parseHead,
  type QueueHead,
  type QueueView,
  type Released,
  released,
} from './queue-head.js'
import type { SqliteConnection, SqlStatement } from './sqlite-connection.js'

/** The shared holders of one key as the store reports them. */
export interface HolderSummary {
  /** How many live holders. */
  readonly holders: number
  /** The highest fence among them (the latest grant). */
  readonly fence: bigint
  /** The owner of the earliest grant among them. */
  readonly owner: string
  /** Wall-clock ms at which the last of them expires. */
  readonly expiresAtMs: number
}

/**
 * Shared (read) holders in `baton_shared`, one row per holder with its own fence and
 * expiry. A shared grant succeeds when no live exclusive lease holds the key and no live
 * exclusive ticket is older than the caller's; the exclusive grant (lease-store.ts) in
 * turn waits for every live shared row and every older lock ticket, so the queue serves
 * readers and writers in arrival order and admits the readers at its head together. The
 * fence comes from the key's one counter in `baton_fences` (F1).
 */
export class SharedStore {
  readonly #grant: SqlStatement
  readonly #purgeKey: SqlStatement
  readonly #view: SqlStatement
  readonly #extend: SqlStatement
  readonly #delete: SqlStatement
  readonly #deleteAll: SqlStatement
  readonly #cascade: SqlStatement
  readonly #read: SqlStatement
  readonly #list: SqlStatement
  readonly #purge: SqlStatement
  readonly #grantTx: (
    key: string,
    owner: string,
    ttlMs: number,
    ticket: bigint,
  ) => bigint | undefined

  constructor(db: SqliteConnection) {
    const fences = { bigInts: true }
    // Parameters: key, owner, key, expires_at, key, now, key, ticket, now.
    this.#grant = db.prepare(
      `INSERT INTO baton_shared (key, owner, fence, expires_at)
       SELECT ?, ?, coalesce((SELECT fence FROM baton_fences WHERE key = ?), 0) + 1, ?
       WHERE NOT EXISTS (SELECT 1 FROM baton_leases WHERE key = ? AND expires_at > ?)
       AND NOT EXISTS (SELECT 1 FROM baton_waiters
         WHERE key = ? AND seq < ? AND expires_at > ? AND mode = 'exclusive')
       RETURNING fence`,
      fences,
    )
    this.#purgeKey = db.prepare('DELETE FROM baton_shared WHERE key = ? AND expires_at <= ?')
    this.#view = db.prepare(
      `SELECT (SELECT expires_at FROM baton_leases WHERE key = ?) AS expires_at,
         EXISTS (SELECT 1 FROM baton_waiters
           WHERE key = ? AND seq < ? AND expires_at > ? AND mode = 'exclusive') AS behind`,
      fences,
    )
    this.#extend = db.prepare(
      'UPDATE baton_shared SET expires_at = ? WHERE key = ? AND owner = ? AND expires_at > ?',
    )
    const head = headSql('lock')
    this.#delete = db.prepare(
      `DELETE FROM baton_shared WHERE key = ? AND owner = ? RETURNING expires_at, ${head} AS head`,
    )
    this.#deleteAll = db.prepare(
      `DELETE FROM baton_shared WHERE key = ? RETURNING expires_at, ${head} AS head`,
    )
    this.#cascade = db.prepare(`SELECT ${headSql('shared')} AS head`)
    const summary = `count(*) AS holders, max(fence) AS fence, max(expires_at) AS expires_at,
      (SELECT owner FROM baton_shared f WHERE f.key = s.key AND f.expires_at > ? ORDER BY fence LIMIT 1) AS owner`
    this.#read = db.prepare(
      `SELECT ${summary} FROM baton_shared s WHERE key = ? AND expires_at > ? GROUP BY key`,
      fences,
    )
    this.#list = db.prepare(
      `SELECT key, ${summary} FROM baton_shared s WHERE expires_at > ? GROUP BY key ORDER BY key`,
      fences,
    )
    this.#purge = db.prepare('DELETE FROM baton_shared WHERE expires_at <= ?')
    this.#grantTx = db.immediate((key: string, owner: string, ttlMs: number, ticket: bigint) => {
      const nowMs = Date.now()
      this.#purgeKey.run(key, nowMs)
      const row = this.#grant.get(key, owner, key, nowMs + ttlMs, key, nowMs, key, ticket, nowMs)
      return (row as { fence: bigint } | undefined)?.fence
    })
  }

  /** Takes a shared hold of `key` for `owner` with the key's next fence, when nothing is in its way; undefined otherwise. */
  grant(
    key: string,
    owner: string,
    ttlMs: number,
    ticket: bigint = NOT_QUEUED,
  ): bigint | undefined {
    return this.#grantTx(key, owner, ttlMs, ticket)
  }

  /** What a shared waiter sees: the exclusive holder's time left, and whether an older exclusive ticket waits. */
  view(key: string, ticket: bigint): QueueView {
    const nowMs = Date.now()
    const row = this.#view.get(key, key, ticket, nowMs) as {
      expires_at: bigint | null
      behind: bigint
    }
    const expiresAtMs = row.expires_at === null ? 0 : Number(row.expires_at)
    return { remainingMs: Math.max(0, expiresAtMs - nowMs), behind: row.behind !== 0n }
  }

  /** The next reader to admit after a shared grant: the head of the key's lock queue when it is shared. */
  cascade(key: string): QueueHead | undefined {
    return parseHead((this.#cascade.get(key, Date.now()) as { head: string | null }).head)
  }

  /** Pushes a live hold's expiry to `ttlMs` from now; false when it expired or is gone. */
  extend(key: string, owner: string, ttlMs: number): boolean {
    const nowMs = Date.now()
    return this.#extend.run(nowMs + ttlMs, key, owner, nowMs) > 0
  }

  /** Deletes the owner's hold; freed when it was still live; the lock queue's head. */
  release(key: string, owner: string): Released {
    const nowMs = Date.now()
    return released(this.#delete.get(key, owner, key, nowMs), nowMs)
  }

  /** Deletes every shared hold of `key` (forceRelease); freed when one was live. */
  releaseAll(key: string): Released {
    const nowMs = Date.now()
    const rows = this.#deleteAll.all(key, key, nowMs)
    const freed = rows.some((row) => released(row, nowMs).freed)
    return { freed, head: rows.length > 0 ? released(rows[0], nowMs).head : undefined }
  }

  /** The live shared holders of `key`, if any. */
  read(key: string): HolderSummary | undefined {
    const nowMs = Date.now()
    const row = this.#read.get(nowMs, key, nowMs) as RawSummary | undefined
    return row === undefined ? undefined : toSummary(row)
  }

  /** Every key with live shared holders, ordered by key. */
  list(): Array<HolderSummary & { readonly key: string }> {
    const nowMs = Date.now()
    return (this.#list.all(nowMs, nowMs) as unknown as Array<RawSummary & { key: string }>).map(
      (row) => ({ key: row.key, ...toSummary(row) }),
    )
  }

  /** Removes the rows of holders that went silent. */
  purgeExpired(nowMs: number): number {
    return this.#purge.run(nowMs)
  }
}

interface RawSummary {
  holders: bigint
  fence: bigint
  expires_at: bigint
  owner: string
}

function toSummary(row: RawSummary): HolderSummary {
  return {
    holders: Number(row.holders),
    fence: row.fence,
    owner: row.owner,
    expiresAtMs: Number(row.expires_at),
  }
}
