import type { BookEntry, DriverLease, RenewResult } from '@baton-lock/core/driver'
import { type LockSession, rowQuery } from './lock-session.js'
import { loseSession, type PostgresLease, type PostgresLeases } from './postgres-lease.js'
import { endsSession, sessionEndedError } from './session-errors.js'

/** Which advisory keys a heartbeat confirmed on its session. */
export type Confirmed = (key: bigint) => boolean

/**
 * One heartbeat per session for every renewal asked for in the same tick: a statement on
 * the session itself (so the server sees the holder alive and `idle_session_timeout`
 * starts over) that counts the advisory locks its backend holds. A session keeps its
 * locks for as long as it lives, so the count normally equals what the driver granted
 * before the heartbeat was sent; only when it is lower are the held keys read one by one.
 * A different backend pid means a transaction-mode pooler is in between.
 */
export class SessionHeartbeat {
  readonly #held: PostgresLeases
  readonly #pending = new Map<LockSession, Promise<Confirmed>>()

  constructor(held: PostgresLeases) {
    this.#held = held
  }

  /**
   * Renews `leases` with one heartbeat per session they live on; results in their order.
   * A lease that is unknown, released, or on a session that ended is `{ ok: false }`.
   */
  async renew(leases: readonly DriverLease[], ttlMs: number): Promise<RenewResult[]> {
    const results: RenewResult[] = leases.map(() => NOT_OK)
    const bySession = new Map<LockSession, Array<[index: number, lock: BookEntry<PostgresLease>]>>()
    leases.forEach((lease, i) => {
      const lock = this.#held.get(lease)
      if (lock === undefined || lock.data.session.ended) return
      const list = bySession.get(lock.data.session) ?? []
      list.push([i, lock])
      bySession.set(lock.data.session, list)
    })
    const beats = [...bySession].map(async ([session, locks]) => {
      try {
        session.raiseTtl(ttlMs)
        await session.configure()
        const confirmed = await this.confirm(session)
        for (const [i, lock] of locks) {
          if (this.#held.get(lock.lease) !== lock) continue
          if (confirmed(lock.data.hash)) {
            // the session outlives a silent holder by its own TTL, never by less
            results[i] = { ok: true, ttlMs: Math.min(ttlMs, session.ttlMs) }
          } else {
            const reason = `postgres: backend pid ${session.pid} no longer holds the lock`
            this.#held.lose(lock.lease, new Error(reason))
          }
        }
      } catch (err) {
        if (!session.ended && !endsSession(err)) throw err
        // the connection is gone, and with it the session's locks: a fact, not a failure
        session.destroy()
        loseSession(this.#held, session, sessionEndedError(session, err))
      }
    })
    await Promise.all(beats)
    return results
  }

  /** Confirms the locks `session` holds; calls in the same tick share one round trip. */
  confirm(session: LockSession): Promise<Confirmed> {
    let batch = this.#pending.get(session)
    if (batch === undefined) {
      batch = Promise.resolve().then(() => {
        this.#pending.delete(session)
        return beat(session)
      })
      this.#pending.set(session, batch)
    }
    return batch
  }
}

const NOT_OK: RenewResult = Object.freeze({ ok: false })

async function beat(session: LockSession): Promise<Confirmed> {
  const expected = new Set(session.held)
  const row = await session.row(rowQuery('baton_heartbeat', session.statements.heartbeat, []))
  assertSameBackend(session, row?.pid as number | undefined)
  if (((row?.held as number | undefined) ?? 0) >= expected.size) return (key) => expected.has(key)
  const detail = await session.query<{ key: string }>(session.statements.heldKeys, [], 'baton_held')
  const present = new Set(detail.rows.map((r) => BigInt(r.key)))
  return (key) => expected.has(key) && present.has(key)
}

/**
 * Throws when a statement was answered by another backend than the one the session
 * opened on: a pooler in transaction mode (PgBouncer `pool_mode = transaction`) is in
 * between, and session advisory locks cannot work through it.
 */
export function assertSameBackend(session: LockSession, pid: number | undefined): void {
  if (pid === undefined) return
  if (!session.pidConfirmed) {
    session.pid = pid
    session.pidConfirmed = true
    return
  }
  if (pid === session.pid) return
  session.destroy()
  throw new Error(
    `postgres: a statement on the lock session of backend pid ${session.pid} ran on pid ${pid}; ` +
      'the connection goes through a pooler in transaction mode (e.g. PgBouncer pool_mode=transaction), ' +
      'which breaks session advisory locks: use session pooling or a direct connection',
  )
}
