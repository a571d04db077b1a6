import type { DriverLease, LeaseBook, RenewResult } from '@baton-lock/core/driver'
import { type LockSession, lastRow } from './lock-session.js'
import { endsSession, sessionEndedError } from './session-errors.js'

/** What the driver keeps about each lease it granted. */
export interface HeldName {
  /** The `GET_LOCK` name. */
  readonly name: string
  /** The session that holds it. */
  readonly session: LockSession
  /** What the session claims for it when that is not `name` (a semaphore permit claims the semaphore's base name). */
  readonly claim?: string
}

/**
 * One heartbeat per session for every renewal asked for in the same tick: a statement on
 * the session itself, so the server's `wait_timeout` clock of that session starts over.
 * It reads `CONNECTION_ID()` and checks every name the session holds
 * (`IS_USED_LOCK(name) <=> CONNECTION_ID()`, all in the same round trip), so one answer
 * confirms every lock on the session and proves it for each name, not just that the
 * connection lives: a name the server no longer counts as this session's is lost at once
 * (exactly those names; the others stay valid). A different connection id means a proxy
 * that multiplexes sessions is in between, under which `GET_LOCK` cannot work. A `KILL`,
 * a server restart, `wait_timeout` or a dropped connection end the session, and with it
 * every lock on it.
 */
export class SessionHeartbeat {
  readonly #book: LeaseBook<HeldName>
  readonly #pending = new Map<LockSession, Promise<void>>()

  constructor(book: LeaseBook<HeldName>) {
    this.#book = book
  }

  /**
   * Renews `leases` with one heartbeat per session they live on; results in their order.
   * A lease that is unknown, released, lost, or on a session that ended is `{ ok: false }`.
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

  /**
   * Proves `session` is alive, the same connection, and still holds its names (losing the
   * leases of names it does not hold); calls in the same tick share one round trip.
   */
  confirm(session: LockSession): Promise<void> {
    let batch = this.#pending.get(session)
    if (batch === undefined) {
      batch = Promise.resolve().then(async () => {
        this.#pending.delete(session)
        const gone = await beat(session)
        if (gone.length > 0) this.#loseNames(session, gone)
      })
      this.#pending.set(session, batch)
    }
    return batch
  }

  #loseNames(session: LockSession, names: readonly string[]): void {
    const gone = new Set(names)
    for (const name of gone) {
      session.held.delete(name)
      session.claimed.delete(name)
    }
    const reason = new Error(
      `mysql: the heartbeat of lock session (connection id ${session.id}) found ${gone.size} ` +
        'lock name(s) no longer held by it (IS_USED_LOCK is not this connection)',
    )
    this.#book.loseWhere((e) => {
      if (e.data.session !== session || !gone.has(e.data.name)) return false
      if (e.data.claim !== undefined) session.claimed.delete(e.data.claim)
      return true
    }, reason)
  }
}

const NOT_OK: RenewResult = Object.freeze({ ok: false })

/** Names checked per column of a heartbeat (about 100 bytes of SQL each). */
const NAMES_PER_COLUMN = 500

/**
 * One statement, one round trip: `CONNECTION_ID()` and, for every name the session holds
 * now, whether the server still counts it as this connection's (a string of `1`/`0` per
 * column of up to 500 names). Resolves the names it does not hold.
 */
async function beat(session: LockSession): Promise<string[]> {
  const names = [...session.held]
  let sql = `${session.takeSettings()}SELECT CONNECTION_ID() AS id`
  for (let i = 0; i < names.length; i += NAMES_PER_COLUMN) {
    const count = Math.min(NAMES_PER_COLUMN, names.length - i)
    sql += `, CONCAT(${HELD_CHECK.repeat(count).slice(0, -1)}) AS h${i / NAMES_PER_COLUMN}`
  }
  const row = lastRow(await session.query(sql, names))
  assertSameConnection(session, Number(row?.id))
  let held = ''
  for (let c = 0; c * NAMES_PER_COLUMN < names.length; c++) held += String(row?.[`h${c}`] ?? '')
  if (held.length !== names.length) {
    throw new Error(
      `mysql: heartbeat answered ${held.length} lock checks for ${names.length} names held`,
    )
  }
  return names.filter((_, i) => held[i] !== '1')
}

/** One name's check in a heartbeat: `1` when this connection holds it (`<=>`: a free name gives 0, not NULL). */
const HELD_CHECK = 'IS_USED_LOCK(?)<=>CONNECTION_ID(),'

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
