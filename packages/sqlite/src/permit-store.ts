import { LockLimitMismatchError } from '@baton-lock/core/driver'
import {
  headSql,
  NOT_QUEUED,
  parseHead,
  type QueueHead,
  type QueueView,
  type Released,
  released,
} from './queue-head.js'
import type { HolderSummary } from './shared-store.js'
import type { SqliteConnection, SqlStatement } from './sqlite-connection.js'

/** What a semaphore waiter sees: `QueueView`, plus a limit the current holders use other than the caller's. */
export interface PermitView extends QueueView {
  readonly heldLimit: number | undefined
}

/** The permits of one semaphore in use, with the limit their holders declared. */
export interface PermitSummary extends HolderSummary {
  readonly limit: number
}

/**
 * Semaphore permits in `baton_permits`, one row per permit in use with its own fence,
 * expiry and the `limit` its holder declared. A semaphore is its own resource: its rows,
 * its fence counter (`baton_permit_fences`) and its queue (tickets of mode `semaphore`)
 * never meet the lock of the same key. A permit is granted when fewer than `limit` live
 * permits exist and no older semaphore ticket waits (M1: the count and the insert are one
 * statement in one write transaction); a request whose limit differs from the live
 * holders' fails with `LockLimitMismatchError`.
 */
export class PermitStore {
  readonly #grant: SqlStatement
  readonly #purgeKey: SqlStatement
  readonly #otherLimit: SqlStatement
  readonly #view: SqlStatement
  readonly #extend: SqlStatement
  readonly #delete: SqlStatement
  readonly #cascade: SqlStatement
  readonly #read: SqlStatement
  readonly #purge: SqlStatement
  readonly #grantTx: (
    key: string,
    owner: string,
    ttlMs: number,
    limit: number,
    ticket: bigint,
  ) => bigint | undefined

  constructor(db: SqliteConnection) {
    const fences = { bigInts: true }
    // Parameters: key, owner, key, expires_at, limit, key, now, limit, key, ticket, now.
    this.#grant = db.prepare(
      `INSERT INTO baton_permits (key, owner, fence, expires_at, lim)
       SELECT ?, ?, coalesce((SELECT fence FROM baton_permit_fences WHERE key = ?), 0) + 1, ?, ?
       WHERE (SELECT count(*) FROM baton_permits WHERE key = ? AND expires_at > ?) < ?
       AND NOT EXISTS (SELECT 1 FROM baton_waiters
         WHERE key = ? AND seq < ? AND expires_at > ? AND mode = 'semaphore')
       RETURNING fence`,
      fences,
    )
    this.#purgeKey = db.prepare('DELETE FROM baton_permits WHERE key = ? AND expires_at <= ?')
    this.#otherLimit = db.prepare(
      'SELECT lim FROM baton_permits WHERE key = ? AND expires_at > ? AND lim <> ? LIMIT 1',
    )
    this.#view = db.prepare(
      `SELECT count(*) AS used, min(expires_at) AS first_expiry,
         (SELECT lim FROM baton_permits WHERE key = ? AND expires_at > ? AND lim <> ? LIMIT 1) AS other,
         EXISTS (SELECT 1 FROM baton_waiters
           WHERE key = ? AND seq < ? AND expires_at > ? AND mode = 'semaphore') AS behind
       FROM baton_permits WHERE key = ? AND expires_at > ?`,
    )
    this.#extend = db.prepare(
      'UPDATE baton_permits SET expires_at = ? WHERE key = ? AND owner = ? AND expires_at > ?',
    )
    this.#delete = db.prepare(
      `DELETE FROM baton_permits WHERE key = ? AND owner = ?
       RETURNING expires_at, ${headSql('semaphore')} AS head`,
    )
    this.#cascade = db.prepare(`SELECT ${headSql('semaphore')} AS head`)
    this.#read = db.prepare(
      `SELECT count(*) AS holders, max(fence) AS fence, max(expires_at) AS expires_at, max(lim) AS lim,
         (SELECT owner FROM baton_permits f WHERE f.key = s.key AND f.expires_at > ? ORDER BY fence LIMIT 1) AS owner
       FROM baton_permits s WHERE key = ? AND expires_at > ? GROUP BY key`,
      fences,
    )
    this.#purge = db.prepare('DELETE FROM baton_permits WHERE expires_at <= ?')
    this.#grantTx = db.immediate(
      (key: string, owner: string, ttlMs: number, limit: number, ticket: bigint) => {
        const nowMs = Date.now()
        this.#purgeKey.run(key, nowMs)
        const other = this.#otherLimit.get(key, nowMs, limit) as { lim: number } | undefined
        if (other !== undefined) throw new LockLimitMismatchError(key, limit, Number(other.lim))
        const row = this.#grant.get(
          key,
          owner,
          key,
          nowMs + ttlMs,
          limit,
          key,
          nowMs,
          limit,
          key,
          ticket,
          nowMs,
        )
        return (row as { fence: bigint } | undefined)?.fence
      },
    )
  }

  /**
   * Takes one of `limit` permits of `key` for `owner` with the semaphore's next fence when
   * one is free and no older ticket waits; undefined otherwise. Throws
   * `LockLimitMismatchError` when live holders declared another limit.
   */
  grant(
    key: string,
    owner: string,
    ttlMs: number,
    limit: number,
    ticket: bigint = NOT_QUEUED,
  ): bigint | undefined {
    return this.#grantTx(key, owner, ttlMs, limit, ticket)
  }

  /** What a waiter for one of `limit` permits sees (a WAL read): when the first permit frees up if none is free. */
  view(key: string, ticket: bigint, limit: number): PermitView {
    const nowMs = Date.now()
    const row = this.#view.get(key, nowMs, limit, key, ticket, nowMs, key, nowMs) as {
      used: number
      first_expiry: number | null
      other: number | null
      behind: number
    }
    const full = Number(row.used) >= limit && row.first_expiry !== null
    return {
      remainingMs: full ? Math.max(0, Number(row.first_expiry) - nowMs) : 0,
      behind: Number(row.behind) !== 0,
      heldLimit: row.other === null ? undefined : Number(row.other),
    }
  }

  /** The next waiter to try after a permit was granted from the queue: the semaphore queue's head. */
  cascade(key: string): QueueHead | undefined {
    return parseHead((this.#cascade.get(key, Date.now()) as { head: string | null }).head)
  }

  /** Pushes a live permit's expiry to `ttlMs` from now; false when it expired or is gone. */
  extend(key: string, owner: string, ttlMs: number): boolean {
    const nowMs = Date.now()
    return this.#extend.run(nowMs + ttlMs, key, owner, nowMs) > 0
  }

  /** Deletes the owner's permit; freed when it was still live; the semaphore queue's head. */
  release(key: string, owner: string): Released {
    const nowMs = Date.now()
    return released(this.#delete.get(key, owner, key, nowMs), nowMs)
  }

  /** The permits of `key` in use, if any. */
  read(key: string): PermitSummary | undefined {
    const nowMs = Date.now()
    const row = this.#read.get(nowMs, key, nowMs) as
      | { holders: bigint; fence: bigint; expires_at: bigint; lim: bigint; owner: string }
      | undefined
    if (row === undefined) return undefined
    return {
      holders: Number(row.holders),
      fence: row.fence,
      owner: row.owner,
      expiresAtMs: Number(row.expires_at),
      limit: Number(row.lim),
    }
  }

  /** Removes the rows of holders that went silent. */
  purgeExpired(nowMs: number): number {
    return this.#purge.run(nowMs)
  }
}
