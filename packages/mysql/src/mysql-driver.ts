import type {
  AcquireRequest,
  DriverLease,
  LockDriver,
  LockInfo,
  LockMode,
  RenewResult,
} from '@baton-lock/core/driver'
import {
  ABORTED,
  DriverLifecycle,
  LeaseBook,
  LinkedAbort,
  pollForGrant,
  RecentContention,
  sleep,
  untilAborted,
} from '@baton-lock/core/driver'
import { FenceTable } from './fence-table.js'
import { type LockSession, lastRow } from './lock-session.js'
import { lockStatements } from './lock-statements.js'
import { MYSQL_CAPABILITIES, type MysqlServerInfo } from './mysql-capabilities.js'
import { lockName, type SemaphoreNames, semaphoreNames } from './mysql-key.js'
import { type MysqlDriverOptions, resolveMysqlOptions } from './mysql-options.js'
import { inspectSemaphore, tryPermit, waitOnSlot } from './permit-attempts.js'
import { readServerInfo } from './server-info.js'
import { waitOnServer } from './server-wait.js'
import { deadlockOr, endsSession, sessionEndedError } from './session-errors.js'
import { type HeldName, SessionHeartbeat } from './session-heartbeat.js'
import { SessionPool } from './session-pool.js'
import { tryLock } from './try-lock.js'

/** Slack on top of `waitMs` before a wait the server did not end itself is cancelled (a stalled server). */
const DEADLINE_SLACK_MS = 250
/** A semaphore waiter waits on one slot server-side this long at first, then tries them all again (doubling). */
const SLOT_WAIT_FIRST_MS = 10
/** ... up to this long per slot wait. */
const SLOT_WAIT_MAX_MS = 100

/**
 * `GET_LOCK` names on connections the driver owns. An uncontended acquire is one round
 * trip (one prepared statement: `GET_LOCK(name, 0)` and the fence bump) and a release
 * another; a contended acquire waits server-side in `GET_LOCK(name, seconds)`
 * and is cancelled with `KILL QUERY`; many locks share few sessions, and one heartbeat
 * per session renews all of its locks and restarts the session's `wait_timeout`.
 */
export class MysqlDriver implements LockDriver {
  readonly name = 'mysql'
  readonly capabilities = MYSQL_CAPABILITIES
  readonly #lifecycle = new DriverLifecycle('mysql')
  readonly #pool: SessionPool
  readonly #book = new LeaseBook<HeldName>()
  readonly #heartbeat = new SessionHeartbeat(this.#book)
  readonly #fences: FenceTable
  /** Names a wait found taken a moment ago: their next wait goes without a try in front. */
  readonly #contended = new RecentContention()
  #ready: Promise<MysqlServerInfo> | undefined
  #server: MysqlServerInfo | undefined

  constructor(options: MysqlDriverOptions) {
    const resolved = resolveMysqlOptions(options)
    const statements = lockStatements(resolved.fenceTable, resolved.fenceDatabase)
    this.#pool = new SessionPool(resolved.connection, statements, resolved, (s, cause) =>
      this.#sessionEnded(s, cause),
    )
    this.#fences = new FenceTable(() => this.#pool.forControl(this.#lifecycle.signal))
  }

  /** A driver for `mysql://user:password@host:port/database` (or `mariadb://`); `ready()` connects. */
  static fromUrl(url: string): MysqlDriver {
    return new MysqlDriver({ url })
  }

  /** What the server said at `ready()`; undefined before. */
  get server(): MysqlServerInfo | undefined {
    return this.#server
  }

  /** Open lock sessions (connections) right now. */
  get sessionCount(): number {
    return this.#pool.size
  }

  /**
   * Opens the first lock session and reads the server's version and features in one round
   * trip; rejects a Galera node and servers older than MySQL 5.7 / MariaDB 10.0.2.
   * Idempotent; a failure is retried by the next call.
   */
  async ready(): Promise<void> {
    if (this.#ready === undefined) {
      const ready = this.#pool.forControl(this.#lifecycle.signal).then(async (session) => {
        if (session === undefined) throw this.#lifecycle.closedError()
        this.#server = await readServerInfo(session)
        return this.#server
      })
      this.#ready = ready
      ready.catch(() => {
        if (this.#ready === ready) this.#ready = undefined
      })
    }
    await this.#ready
  }

  async acquire(req: AcquireRequest): Promise<DriverLease | null> {
    this.#lifecycle.assertOpen()
    if (this.#server === undefined) await this.ready()
    if (req.mode === 'semaphore') return this.#acquirePermit(req)
    const name = lockName(req.key)
    // a one-shot try reads req.signal only if it has to wait for a session: core makes the
    // signal on first read, and an uncontended try never needs it
    if (!(req.waitMs > 0)) return this.#tryOnce(req, name)
    const deadlineMs = performance.now() + req.waitMs
    // Core sends no try of its own first (`queuedWait`). A name that a wait found taken a
    // moment ago is waited for at once on an idle session: the wait tries first on the
    // server and says whether it waited, so a try in front would only add a round trip
    // (and join the server's queue later). Any other name gets one try (an uncontended
    // acquire costs a try's one prepared statement), and the wait only if that fails.
    let session =
      this.#fences.known && this.#contended.isRecent(name)
        ? this.#pool.idleForWait(name, req.ttlMs)
        : undefined
    const direct = session !== undefined
    if (!direct) {
      const lease = await this.#tryOnce(req, name)
      if (lease !== null || req.signal.aborted) return lease
      this.#contended.note(name)
      req.onContended?.()
    }
    const leftMs = deadlineMs - performance.now()
    const stop = new LinkedAbort(req.signal, this.#lifecycle.signal)
    if (leftMs < 2 ** 31 - DEADLINE_SLACK_MS) {
      stop.abortAfter(Math.ceil(Math.max(0, leftMs) + DEADLINE_SLACK_MS))
    }
    const signal = stop.signal
    try {
      if (session === undefined) {
        const waiter = await this.#pool.forWait(name, req.ttlMs, signal)
        if (waiter === undefined) return null
        if (waiter === null) {
          // every session is busy waiting (maxSessions): bounded polling with one-shot tries
          return await pollForGrant({
            attempt: async () => ({ lease: await this.#tryOnce(req, name, signal) }),
            waitMs: Math.max(0, deadlineMs - performance.now()),
            signal,
            minMs: 5,
            maxMs: 250,
          })
        }
        session = waiter
      }
      return await this.#settle(
        this.#waitOn(session, req, name, deadlineMs, signal, direct),
        signal,
      )
    } finally {
      stop.dispose()
    }
  }

  async renew(lease: DriverLease, ttlMs: number): Promise<RenewResult> {
    const [result] = await this.#heartbeat.renew([lease], ttlMs)
    return result ?? { ok: false }
  }

  async renewMany(leases: readonly DriverLease[], ttlMs: number): Promise<RenewResult[]> {
    return this.#heartbeat.renew(leases, ttlMs)
  }

  async release(lease: DriverLease): Promise<boolean> {
    const entry = this.#book.forget(lease)
    if (entry === undefined) return false
    const { session, name, claim } = entry.data
    session.held.delete(name)
    if (session.ended) return false
    try {
      const row = lastRow(await session.execute(session.statements.unlock, [name]))
      return Number(row?.released) === 1
    } catch (err) {
      // a broken connection takes the lock with it; after any other failure we cannot
      // tell whether the lock is still held, so the session is dropped to make sure
      session.destroy()
      if (session.ended || endsSession(err)) return false
      throw err
    } finally {
      session.claimed.delete(claim ?? name)
    }
  }

  async inspect(key: string, mode?: LockMode): Promise<LockInfo | null> {
    if (mode === 'semaphore') return inspectSemaphore(await this.#control(), semaphoreNames(key))
    const name = lockName(key)
    const row = await this.#controlRow((s) => s.statements.inspect, [name, name])
    if (row?.holder == null) return null
    if (row.fence == null) return { held: true, mode: 'exclusive', holders: 1 }
    return {
      held: true,
      fence: BigInt(String(row.fence)),
      owner: String(row.owner),
      mode: 'exclusive',
      holders: 1,
    }
  }

  async list(prefix: string): Promise<Array<LockInfo & { key: string }>> {
    const pattern = `${prefix.replace(/[!%_]/g, (c) => `!${c}`)}%`
    const session = await this.#control()
    let rows: unknown
    try {
      rows = await session.query(session.statements.list, [pattern])
    } catch (err) {
      // no fence table yet: Baton never granted a lock on this database
      if ((err as { errno?: unknown }).errno === ER_NO_SUCH_TABLE) return []
      throw err
    }
    return (rows as Array<Record<string, unknown>>).map((r) => ({
      key: Buffer.isBuffer(r.lock_key) ? r.lock_key.toString('utf8') : String(r.lock_key),
      held: true,
      fence: BigInt(String(r.fence)),
      owner: Buffer.isBuffer(r.owner) ? r.owner.toString('utf8') : String(r.owner),
    }))
  }

  /**
   * `KILL`s the connection that holds `key`, whoever it is (a Baton session or any SQL
   * client). Blast radius: every other lock on that connection is freed too, and a Baton
   * holder sees all of them lost at once. Needs the holder's user, or the CONNECTION_ADMIN
   * (MySQL 8) / SUPER privilege.
   */
  async forceRelease(key: string): Promise<boolean> {
    const name = lockName(key)
    const row = await this.#controlRow((s) => s.statements.inspect, [name, name])
    const holder = row?.holder
    if (holder == null) return false
    const id = Number(holder)
    if (!Number.isSafeInteger(id)) return false
    const session = await this.#control()
    try {
      await session.query(`KILL ${id}`)
    } catch (err) {
      // 1094 unknown thread: it ended meanwhile
      if ((err as { errno?: unknown }).errno === 1094) return false
      throw err
    }
    return true
  }

  async close(): Promise<void> {
    await this.#lifecycle.close(async () => {
      await this.#pool.close()
      this.#book.loseAll(this.#lifecycle.closedError())
    })
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  /**
   * One `GET_LOCK(name, 0)` + fence round trip on a shared session; creates the fence table
   * on first use. `signal` defaults to the request's (read only when needed).
   */
  async #tryOnce(req: AcquireRequest, name: string, signal?: AbortSignal) {
    for (let attempt = 1; ; attempt++) {
      const session =
        this.#pool.pickForKey(name, req.ttlMs) ??
        (await this.#pool.forKey(name, req.ttlMs, signal ?? req.signal))
      if (session === undefined) return null
      try {
        const sentAtMs = performance.now()
        const fence = await tryLock(session, name, req, this.#fences)
        this.#fences.known = true
        if (fence === null) {
          session.claimed.delete(name)
          return null
        }
        return this.#grant(session, req, name, fence, sentAtMs)
      } catch (err) {
        session.claimed.delete(name)
        // a session the server ended while idle (restart, wait_timeout) whose end we had
        // not seen yet: nothing was granted on it, so one more try on a fresh session
        if (attempt > 1 || !endsSession(err) || (signal ?? req.signal).aborted) throw err
        session.destroy()
      }
    }
  }

  async #waitOn(
    session: LockSession,
    req: AcquireRequest,
    name: string,
    deadlineMs: number,
    signal: AbortSignal,
    direct: boolean,
  ): Promise<DriverLease | null> {
    let lease: DriverLease | null = null
    try {
      // a wait goes first only once the fence table is known to exist (#fences.known)
      const sentAtMs = performance.now()
      const { fence, waited } = await waitOnServer(
        session,
        this.#pool,
        name,
        req,
        deadlineMs,
        signal,
      )
      if (direct) {
        // sent without a try: the server's answer tells whether the name was taken
        if (waited) {
          this.#contended.note(name)
          req.onContended?.()
        } else {
          this.#contended.forget(name)
        }
      }
      if (fence === null) return null
      lease = this.#grant(session, req, name, fence, sentAtMs)
      return lease
    } catch (err) {
      throw deadlockOr(err, req.key)
    } finally {
      session.waiting = false
      if (lease === null) session.claimed.delete(name)
    }
  }

  #grant(
    session: LockSession,
    req: AcquireRequest,
    name: string,
    fence: bigint,
    sentAtMs: number,
    claim?: string,
  ): DriverLease {
    session.held.add(name)
    const ttlMs = Math.min(req.ttlMs, session.ttlMs)
    const data = claim === undefined ? { name, session } : { name, session, claim }
    const lease = this.#book.grant(req, { fence, ttlMs, sentAtMs }, data)
    if (session.ended) this.#book.lose(lease, sessionEndedError(session, undefined))
    return lease
  }

  /** Returns the work's lease, or null at once on abort; a lease granted after that is released (S4). */
  async #settle(
    work: Promise<DriverLease | null>,
    signal: AbortSignal,
  ): Promise<DriverLease | null> {
    const outcome = await untilAborted(work, signal)
    if (outcome !== ABORTED) return outcome
    this.#lifecycle.track(work.then((lease) => (lease === null ? false : this.release(lease))))
    return null
  }

  /**
   * A semaphore permit: one of `limit` slot names (mysql-key.ts `semaphoreNames`). Tries
   * them all (one round trip per 64 slots) on a session that holds no slot of this
   * semaphore; when all are taken, waits server-side in `GET_LOCK` on ONE slot (in turn,
   * starting at a random one) for a slice that doubles from 10 to 100 ms, then tries them
   * all again. `GET_LOCK` cannot wait for any of several names, so a slot freed while the
   * waiter watches another is found at the next try (within the slice): the wait is push
   * for one slot and bounded polling for the rest, and not fair across waiters. With
   * `limit` 1 the whole wait is server-side, like a mutex's.
   */
  async #acquirePermit(req: AcquireRequest): Promise<DriverLease | null> {
    const limit = req.limit
    if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > 10_000) {
      throw new RangeError(
        `mysql: semaphore limit must be an integer from 1 to 10000, got ${limit}`,
      )
    }
    const names = semaphoreNames(req.key)
    const deadlineMs = performance.now() + req.waitMs
    const stop = new LinkedAbort(req.signal, this.#lifecycle.signal)
    if (req.waitMs < 2 ** 31 - DEADLINE_SLACK_MS) {
      stop.abortAfter(Math.ceil(Math.max(0, req.waitMs) + DEADLINE_SLACK_MS))
    }
    try {
      return await this.#permitLoop(req, limit, names, deadlineMs, stop.signal)
    } finally {
      stop.dispose()
    }
  }

  async #permitLoop(
    req: AcquireRequest,
    limit: number,
    names: SemaphoreNames,
    deadlineMs: number,
    signal: AbortSignal,
  ): Promise<DriverLease | null> {
    let slot = Math.floor(Math.random() * limit)
    let sliceMs = SLOT_WAIT_FIRST_MS
    let contended = false
    for (;;) {
      // a try is not bound by the wait's deadline (it may have to open a session first)
      const tried = await tryPermit(this.#pool, this.#fences, req, names, limit, req.signal)
      if (tried !== null)
        return this.#grant(tried.session, req, tried.name, tried.fence, tried.sentAtMs, names.base)
      if (!(req.waitMs > 0)) return null
      // every slot taken: contention, reported once (core sent no try of its own: `queuedWait`)
      if (!contended) req.onContended?.()
      contended = true
      const leftMs = deadlineMs - performance.now()
      if (leftMs <= 0 || signal.aborted) return null
      const waitMs = limit === 1 ? leftMs : Math.min(leftMs, sliceMs)
      const session = await this.#pool.forWait(names.base, req.ttlMs, signal)
      if (session === undefined) return null
      if (session === null) {
        // every session is busy (maxSessions): a plain pause before the next try
        await sleep(waitMs, signal)
      } else {
        const wait = waitOnSlot(this.#pool, session, req, names, slot, limit, waitMs, signal).then(
          (g) =>
            g === null ? null : this.#grant(session, req, g.name, g.fence, g.sentAtMs, names.base),
        )
        const lease = await this.#settle(wait, signal)
        if (lease !== null || signal.aborted) return lease
      }
      slot = (slot + 1) % limit
      sliceMs = Math.min(SLOT_WAIT_MAX_MS, sliceMs * 2)
    }
  }

  #sessionEnded(session: LockSession, cause: unknown): void {
    const reason = this.#lifecycle.closing
      ? this.#lifecycle.closedError()
      : sessionEndedError(session, cause)
    this.#book.loseWhere((e) => e.data.session === session, reason)
  }

  async #control(): Promise<LockSession> {
    const session = await this.#pool.forControl(this.#lifecycle.signal)
    if (session === undefined) throw this.#lifecycle.closedError()
    return session
  }

  async #controlRow(sql: (s: LockSession) => string, values: unknown[]) {
    const session = await this.#control()
    return session.row(sql(session), values)
  }
}

/** `Table ... doesn't exist`. */
export const ER_NO_SUCH_TABLE = 1146
