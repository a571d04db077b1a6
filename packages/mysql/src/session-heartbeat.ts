import type { DriverLease, LeaseBook, RenewResult } from '@baton-lock/core/driver'
import type { LockSession } from './lock-session.js'
import { endsSession, sessionEndedError } from './session-errors.js'

/** What the driver keeps about each lease it granted. */
export interface HeldName {
  /** The `GET_LOCK` name. */
  readonly name: string
  /** The session that holds it. */
  readonly session: LockSession
}

/**
 * One heartbeat per session for every renewal asked for in the same tick: a statement on
 * the session itself, so the server's `wait_timeout` clock of that session starts over.
 * A `GET_LOCK` name stays held for exactly as long as the session that took it lives
 * (only that session can `RELEASE_LOCK` it; `KILL`, a server restart, `wait_timeout` or a
 * dropped connection end the session and free them all), so a heartbeat answered by the
 * same connection id confirms every lock on the session. A different connection id means
 * a proxy that multiplexes sessions is in between, under which `GET_LOCK` cannot work.
 */
export class SessionHeartbeat {
  readonly #book: LeaseBook<HeldName>
  readonly #pending = new Map<LockSession, Promise<void>>()

  constructor(book: LeaseBook<HeldName>) {
    this.#book = book
  }

  /**
   * Renews `leases` with one heartbeat per session they live on; results in their order.
   * A lease that is unknown, released, or on a session that ended is `{ ok: false }`.
   */
  async renew(leases: readonly DriverLease[], ttlMs: number): Promise<RenewResult[]> {
    const results: RenewResult[] = leases.map(() => NOT_OK)
    const bySession = new Map<LockSession, number[]>()
    leases.forEach((lease, i) => {
      const entry = this.#book.get(lease)
      if (entry === undefined || entry.data.session.ended) return
      const list = bySession.get(entry.data.session) ?? []
      list.push(i)
      bySession.set(entry.data.session, list)
    })
    const beats = [...bySession].map(async ([session, indexes]) => {
      try {
        session.raiseTtl(ttlMs)
        await this.confirm(session)
        for (const i of indexes) {
          const lease = leases[i]
          if (lease === undefined || this.#book.get(lease) === undefined) continue
          // the session outlives a silent holder by its own wait_timeout, never by less
          results[i] = { ok: true, ttlMs: Math.min(ttlMs, session.ttlMs) }
        }
      } catch (err) {
        if (!session.ended && !endsSession(err)) throw err
        // the connection is gone, and with it the session's locks: a fact, not a failure
        session.destroy()
        const reason = sessionEndedError(session, err)
        this.#book.loseWhere((e) => e.data.session === session, reason)
      }
    })
    await Promise.all(beats)
    return results
  }

  /** Proves `session` is alive and the same connection; calls in the same tick share one round trip. */
  confirm(session: LockSession): Promise<void> {
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

async function beat(session: LockSession): Promise<void> {
  const row = await session.row(`${session.takeSettings()}SELECT CONNECTION_ID() AS id`)
  assertSameConnection(session, Number(row?.id))
}

/**
 * Throws (and drops the session) when a statement was answered by another connection
 * than the one the session opened: a proxy that multiplexes client sessions onto server
 * connections (ProxySQL multiplexing, a transaction-mode pooler) is in between, and
 * `GET_LOCK` names would be taken and released by strangers' sessions.
 */
export function assertSameConnection(session: LockSession, id: number): void {
  if (!Number.isFinite(id) || id === session.id) return
  session.destroy()
  throw new Error(
    `mysql: a statement on the lock session of connection ${session.id} ran on connection ${id}; ` +
      'a proxy multiplexes sessions (e.g. ProxySQL with multiplexing on), which breaks GET_LOCK: ' +
      'connect to the server directly or disable multiplexing for this user',
  )
}
