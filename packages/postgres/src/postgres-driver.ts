import {
  ABORTED,
  type AcquireRequest,
  type DriverLease,
  DriverLifecycle,
  LeaseBook,
  type LockDriver,
  type LockInfo,
  LockLimitMismatchError,
  type LockMode,
  pollForGrant,
  RecentContention,
  type RenewResult,
} from '@baton-lock/core/driver'
import { FenceSequence } from './fence-sequence.js'
import type { LockSession, Row, RowQuery } from './lock-session.js'
import { type LockStatements, lockStatements } from './lock-statements.js'
import { type LockTarget, lockTarget } from './lock-target.js'
import { waitForPermit } from './permit-wait.js'
import { POSTGRES_CAPABILITIES } from './postgres-capabilities.js'
import { advisoryKey, semaphoreKey } from './postgres-key.js'
import { loseSession, type PostgresLease } from './postgres-lease.js'
import { type PostgresDriverOptions, resolvePostgresOptions } from './postgres-options.js'
import {
  defaultHeldLockCap,
  defaultSessionCap,
  lockTableFullError,
  readServerLimits,
  type ServerLimits,
} from './server-limits.js'
import { waitOnServer } from './server-wait.js'
import { endsSession, sessionEndedError } from './session-errors.js'
import { assertSameBackend, SessionHeartbeat } from './session-heartbeat.js'
import { SessionPool } from './session-pool.js'
import { isMissingTable, ValueTable } from './value-table.js'
import { WaitStop } from './wait-stop.js'

/**
 * Session advisory locks on connections the driver owns. Uncontended acquire is one
 * statement (`pg_try_advisory_lock` and `nextval` of the fence sequence together); a
 * contended acquire waits server-side in `pg_advisory_lock` under `lock_timeout`; many
 * locks share few sessions, and one heartbeat per session renews all of its locks.
 */
export class PostgresDriver implements LockDriver {
  readonly name = 'postgres'
  readonly capabilities = POSTGRES_CAPABILITIES
  readonly #options
  readonly #statements: LockStatements
  readonly #pool: SessionPool
  readonly #held = new LeaseBook<PostgresLease>()
  /** Keys a wait of this driver found taken within the last second (see `#acquire`). */
  readonly #contended = new RecentContention<bigint>()
  readonly #heartbeat = new SessionHeartbeat(this.#held)
  readonly #lifecycle = new DriverLifecycle('postgres')
  /** The waits in progress; close() stops them all. */
  readonly #waits = new Set<WaitStop>()
  readonly #sequence: FenceSequence
  readonly #values: ValueTable
  /** The server's limits, read with the first acquire; undefined until then. */
  #limits: ServerLimits | undefined
  #readingLimits: Promise<ServerLimits> | undefined
  #heldCap = Number.POSITIVE_INFINITY
  #ready: Promise<void> | undefined

  /** A driver for `postgres://` or `postgresql://` URLs; `connect(url)` awaits `ready()`. */
  static fromUrl(url: string): PostgresDriver {
    return new PostgresDriver({ url })
  }

  constructor(options: PostgresDriverOptions) {
    this.#options = resolvePostgresOptions(options)
    const statements = lockStatements(this.#options.fenceSchema, this.#options.fenceSequence)
    this.#statements = statements
    this.#sequence = new FenceSequence(() => this.#pool.forControl(this.#lifecycle.signal))
    this.#values = new ValueTable(() => this.#pool.forControl(this.#lifecycle.signal))
    this.#pool = new SessionPool(this.#options.client, statements, this.#options, (s, cause) =>
      this.#sessionEnded(s, cause),
    )
    const closing = this.#lifecycle.signal
    closing.addEventListener('abort', () => {
      for (const wait of [...this.#waits]) wait.stop(closing.reason)
    })
    // connect now, so the first acquire does not pay for it (a failure shows at that acquire)
    this.#pool.warm()
  }

  /** Open lock sessions (connections) right now. */
  get sessionCount(): number {
    return this.#pool.size
  }

  /**
   * Proves the server answers: opens (or reuses) a session and runs `SELECT 1`, bounded by
   * `connectTimeoutMs`. Rejects with the raw error for a refused port, an unknown database,
   * a wrong password or a silent port; retried after a failure. Idempotent.
   */
  ready(): Promise<void> {
    if (this.#lifecycle.closing) return Promise.reject(this.#lifecycle.closedError())
    this.#ready ??= this.#control('SELECT 1').then(
      () => undefined,
      (err: unknown) => {
        this.#ready = undefined
        throw err
      },
    )
    return this.#ready
  }

  acquire(req: AcquireRequest): Promise<DriverLease | null> {
    if (req.value === undefined || req.mode !== 'exclusive') return this.#acquire(req)
    return this.#acquireWithValue(req, req.value)
  }

  async #acquireWithValue(req: AcquireRequest, value: string): Promise<DriverLease | null> {
    const lease = await this.#acquire(req)
    if (lease !== null) await this.#storeValue(lease, value)
    return lease
  }

  async #acquire(req: AcquireRequest): Promise<DriverLease | null> {
    this.#lifecycle.assertOpen()
    const deadlineMs = performance.now() + req.waitMs
    const limits = this.#limits ?? (await this.#learnLimits())
    if (this.#held.size >= this.#heldCap) throw lockTableFullError(this.#held.size, limits)
    const target = lockTarget(req, this.#statements)
    // A key that was contended a moment ago is waited for at once on an idle session: the
    // wait tries first on the server and says whether it waited, so a try in front would
    // only cost a round trip. Otherwise one try on a pipelined session (core sends none of
    // its own first: `queuedWait`), and the wait only if that finds the key taken. The
    // way to a free key reads no req.signal: core makes it only when asked for.
    let session: LockSession | null | undefined =
      req.waitMs > 0 && target.mode !== 'semaphore' && this.#contended.isRecent(target.claim)
        ? this.#pool.idleForWait(target.claim, req.ttlMs)
        : undefined
    const direct = session !== undefined
    if (!direct) {
      const lease = await this.#tryOnce(req, target)
      if (lease !== null || !(req.waitMs > 0)) return lease
    }
    const stop = new WaitStop(req, this.#waits, this.#lifecycle.signal)
    try {
      if (!direct) {
        if (stop.stopped) return null
        if (target.mode !== 'semaphore') this.#contended.note(target.claim)
        req.onContended?.()
      }
      // an idle session first: `forWait` needs a signal, and `stop.signal` is made when read
      session ??=
        this.#pool.idleForWait(target.claim, req.ttlMs) ??
        (await this.#pool.forWait(target.claim, req.ttlMs, stop.signal))
      if (session === undefined) return null
      if (session === null) return await this.#pollFor(req, target, deadlineMs, stop.signal)
      const wait = this.#waitOn(session, req, target, deadlineMs, stop, direct)
      return await this.#answerAbortAtOnce(wait, stop)
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
    const lock = this.#held.forget(lease)
    if (lock === undefined) return false
    const { session, hash, unlock, valued } = lock.data
    session.held.delete(hash)
    if (session.ended) return false
    try {
      // pipelined: the value goes in the same round trip, before the lock
      const clear = valued
        ? session
            .query(session.statements.clearValue, [hash.toString(), lease.owner], 'baton_clear')
            .catch((err: unknown) => {
              if (!isMissingTable(err)) throw err
            })
        : undefined
      const unlocked = session.row(unlock)
      const row = clear === undefined ? await unlocked : (await Promise.all([unlocked, clear]))[0]
      return row?.released === true
    } catch (err) {
      // a broken connection takes the lock with it; after any other failure we cannot
      // tell whether the lock is still held, so the session is dropped to make sure
      session.destroy()
      if (session.ended || endsSession(err)) return false
      throw err
    } finally {
      session.claimed.delete(hash)
    }
  }

  /**
   * The key's lock from `pg_locks`: `mode` and `holders` (backends holding it); owner and
   * fence when this driver holds it exclusively, or holds every shared hold (then the
   * earliest one's). `mode: 'semaphore'`: the slots in use as `holders` and the limit the
   * holders' markers name (when they agree). No `value`: the layout has no place for it.
   */
  async inspect(key: string, mode?: LockMode): Promise<LockInfo | null> {
    if (mode === 'semaphore') return this.#inspectSemaphore(key)
    const hash = advisoryKey(key)
    const rows = await this.#holders(hash)
    if (rows.length === 0) return null
    const exclusive = rows.some((r) => r.mode === 'ExclusiveLock')
    const pids = new Set(rows.map((r) => r.pid))
    const mine = [...this.#held.entries()]
      .filter(({ data }) => data.hash === hash && data.mode !== 'semaphore')
      .filter(({ data }) => pids.has(data.session.pid))
      .sort((a, b) => (a.lease.fence < b.lease.fence ? -1 : 1))
    const info: LockInfo = {
      held: true,
      mode: exclusive ? 'exclusive' : 'shared',
      holders: rows.length,
    }
    const first = mine[0]
    const stored = exclusive ? await this.#readValue(hash, rows[0]?.pid ?? 0) : undefined
    if (first === undefined || mine.length < rows.length) return { ...info, ...stored }
    return { ...info, ...stored, owner: first.lease.owner, fence: first.lease.fence }
  }

  /**
   * Records an election value with its grant, on the holder's session (one more round
   * trip, for elections only). If that fails the grant is released and the error thrown.
   */
  async #storeValue(lease: DriverLease, value: string): Promise<void> {
    const lock = this.#held.get(lease)
    if (lock === undefined) return
    try {
      await this.#values.store(lock.data.session, lock.data.hash, lease, value)
    } catch (err) {
      await this.release(lease).catch(() => false)
      throw err
    }
  }

  async #readValue(hash: bigint, pid: number) {
    const session = await this.#pool.forControl(this.#lifecycle.signal)
    if (session === undefined) throw this.#lifecycle.closedError()
    return this.#values.read(session, hash, pid)
  }

  async #inspectSemaphore(key: string): Promise<LockInfo | null> {
    const session = await this.#pool.forControl(this.#lifecycle.signal)
    if (session === undefined) throw this.#lifecycle.closedError()
    const { rows } = await session.query<{
      holders: number
      lowest: number | null
      highest: number | null
    }>(session.statements.semaphoreHolders, [semaphoreKey(key)], 'baton_sem_holders')
    const row = rows[0]
    if (row === undefined || row.holders === 0) return null
    const agreed = row.lowest !== null && row.lowest === row.highest
    return {
      held: true,
      mode: 'semaphore',
      holders: row.holders,
      ...(agreed ? { limit: row.lowest as number } : {}),
    }
  }

  /**
   * Terminates the backend that holds `key` (`pg_terminate_backend`). Blast radius: every
   * other lock on that session is freed too and its holder sees them lost. Needs the same
   * role as the holder, `pg_signal_backend` membership or superuser.
   */
  async forceRelease(key: string): Promise<boolean> {
    const rows = await this.#holders(advisoryKey(key))
    let freed = false
    for (const { pid } of rows) {
      const { rows } = await this.#control('SELECT pg_terminate_backend($1) AS done', [pid])
      freed ||= rows[0]?.done === true
    }
    return freed
  }

  /** Closes every session: the server frees their locks (H1). */
  close(): Promise<void> {
    return this.#lifecycle.close(() => this.#pool.close())
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  /** One try (`pg_try_advisory_lock` + fence, or its shared or semaphore form) on a pipelined session. */
  async #tryOnce(
    req: AcquireRequest,
    target: LockTarget,
    signal?: AbortSignal,
  ): Promise<DriverLease | null> {
    const key = target.claim
    // core races every driver call against its deadline and releases a late grant, so the
    // fast path does not race again; only finding a session may wait
    for (let attempt = 1; ; attempt++) {
      const session =
        this.#pool.pickForKey(key, req.ttlMs) ??
        (await this.#pool.forKey(key, req.ttlMs, signal ?? req.signal, req.waitMs > 0))
      if (session === undefined) return null
      try {
        return await this.#attempt(session, req, target)
      } catch (err) {
        // a session the server ended while idle (restart, idle timeout) whose end we had
        // not seen yet: nothing was granted on it, so one more try on a fresh session
        if (
          attempt > 1 ||
          err instanceof LockLimitMismatchError ||
          !endsSession(err) ||
          (signal ?? req.signal).aborted
        )
          throw err
        session.destroy()
      }
    }
  }

  async #attempt(
    session: LockSession,
    req: AcquireRequest,
    target: LockTarget,
  ): Promise<DriverLease | null> {
    let lease: DriverLease | null = null
    try {
      let sentAtMs = performance.now()
      const sent = session.row(target.tryQuery)
      // the liveness settings for this TTL queue right behind the grant, not in front of it:
      // nothing else runs on the session in between, and the grant costs one round trip
      if (session.needsConfigure) session.configure().catch(() => {})
      let row: Row | undefined
      try {
        row = await sent
      } catch (err) {
        // 42P01 while parsing nextval('...'): the fence sequence does not exist yet (first
        // use); 26000: a try pipelined behind that failed Parse found no prepared statement
        const code = (err as { code?: unknown }).code
        if (code !== '42P01' && code !== '26000') throw err
        await this.#sequence.ensure()
        sentAtMs = performance.now()
        row = await session.row(target.tryQuery)
      }
      const outcome = target.outcome(row)
      assertSameBackend(session, outcome.pid)
      if (outcome.grant === null) return null
      const { fence, unlock } = outcome.grant
      lease = this.#grant(session, req, target, fence, unlock, sentAtMs)
      return lease
    } finally {
      if (lease === null) session.claimed.delete(target.claim)
    }
  }

  /** Waits on `session` (marked waiting, holding nothing) until the deadline. */
  async #waitOn(
    session: LockSession,
    req: AcquireRequest,
    target: LockTarget,
    deadlineMs: number,
    stop: WaitStop,
    direct = false,
  ): Promise<DriverLease | null> {
    let lease: DriverLease | null = null
    try {
      await session.configure()
      if (target.mode === 'semaphore') {
        const permit = await waitForPermit(session, target, deadlineMs, stop.signal)
        if (permit === null) return null
        const { fence, unlock, sentAtMs } = permit
        lease = this.#grant(session, req, target, fence, unlock, sentAtMs)
        return lease
      }
      // one server-side wait up to the deadline
      const { statement, unlock } = target.wait()
      const sentAtMs = performance.now()
      const outcome = await waitOnServer(session, this.#pool, statement, deadlineMs, stop)
      if (direct) {
        // sent without a try: the server's answer tells whether the key was taken
        if (outcome === null || outcome.waited) {
          this.#contended.note(target.claim)
          req.onContended?.()
        } else {
          this.#contended.forget(target.claim)
        }
      }
      if (outcome === null) return null
      assertSameBackend(session, outcome.pid)
      lease = this.#grant(session, req, target, outcome.fence, unlock, sentAtMs)
      return lease
    } finally {
      session.waiting = false
      if (lease === null) session.claimed.delete(target.claim)
    }
  }

  /**
   * An aborted wait answers null at once, even with the server unreachable (L3): the wait
   * is cancelled server-side (`pg_cancel_backend`, or the session is dropped) and runs to
   * its end in the background. A grant that wins the race against that cancel therefore
   * reaches no caller, so core cannot release it: it is unlocked here, as the last step
   * of cancelling the driver's own server-side wait.
   */
  async #answerAbortAtOnce(
    wait: Promise<DriverLease | null>,
    stop: WaitStop,
  ): Promise<DriverLease | null> {
    const outcome = await new Promise<DriverLease | null | typeof ABORTED>((resolve, reject) => {
      stop.onStop(() => resolve(ABORTED))
      wait.then(resolve, reject)
    })
    if (outcome !== ABORTED) return outcome
    this.#lifecycle.track(wait.then((lease) => lease !== null && this.release(lease)))
    return null
  }

  /** Records a grant on `session`; lost at once if the session already ended. */
  #grant(
    session: LockSession,
    req: AcquireRequest,
    target: LockTarget,
    fence: bigint,
    unlock: RowQuery,
    sentAtMs: number,
  ): DriverLease {
    const hash = target.claim
    session.held.add(hash)
    const valued = req.value !== undefined && target.mode === 'exclusive'
    const data: PostgresLease = { hash, session, mode: target.mode, unlock, valued }
    const lease = this.#held.grant(req, { fence, ttlMs: req.ttlMs, sentAtMs }, data)
    if (session.ended) this.#held.lose(lease, sessionEndedError(session, undefined))
    return lease
  }

  /** Fallback when every session is busy waiting (`maxSessions`): tries with bounded backoff. */
  #pollFor(req: AcquireRequest, target: LockTarget, deadlineMs: number, signal: AbortSignal) {
    return pollForGrant({
      attempt: async () => ({ lease: await this.#tryOnce(req, target, signal) }),
      waitMs: deadlineMs - performance.now(),
      signal,
      minMs: 5,
      maxMs: 250,
    })
  }

  /**
   * Reads the server's connection and lock-table limits once, and caps sessions and held
   * locks so that the driver never takes every slot of either (see README "Server limits").
   */
  #learnLimits(): Promise<ServerLimits> {
    this.#readingLimits ??= (async () => {
      const session = await this.#pool.forControl(this.#lifecycle.signal)
      if (session === undefined) throw new Error('postgres driver closed')
      const limits = await readServerLimits(session)
      if (!this.#options.maxSessionsGiven) this.#pool.limitTo(defaultSessionCap(limits))
      this.#heldCap = this.#options.maxHeldLocks ?? defaultHeldLockCap(limits)
      this.#limits = limits
      return limits
    })()
    this.#readingLimits.catch(() => {
      this.#readingLimits = undefined
    })
    return this.#readingLimits
  }

  #sessionEnded(session: LockSession, cause: unknown): void {
    const reason = this.#lifecycle.closing
      ? this.#lifecycle.closedError()
      : sessionEndedError(session, cause)
    loseSession(this.#held, session, reason)
  }

  async #holders(key: bigint): Promise<Array<{ pid: number; mode: string }>> {
    const session = await this.#pool.forControl(this.#lifecycle.signal)
    if (session === undefined) throw this.#lifecycle.closedError()
    const { rows } = await session.query<{ pid: number; mode: string }>(
      session.statements.holders,
      [key.toString()],
    )
    return rows
  }

  async #control(text: string, values: unknown[] = []) {
    const session = await this.#pool.forControl(this.#lifecycle.signal)
    if (session === undefined) throw this.#lifecycle.closedError()
    return session.query<Record<string, unknown>>(text, values)
  }
}
