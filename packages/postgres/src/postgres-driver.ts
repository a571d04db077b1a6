import type {
  AcquireRequest,
  DriverLease,
  LockDriver,
  LockInfo,
  RenewResult,
} from '@baton-lock/core'
import { ABORTED, Backoff, defineCapabilities, sleep, untilAborted } from '@baton-lock/core'
import { advisoryKey } from './advisory-key.js'
import { FenceSequence } from './fence-sequence.js'
import { HeldLocks } from './held-lock.js'
import type { LockSession } from './lock-session.js'
import { lockStatements } from './lock-statements.js'
import { type PostgresDriverOptions, resolvePostgresOptions } from './postgres-driver-options.js'
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

/** What PostgreSQL advisory locks can promise (see README "Capabilities"). */
export const POSTGRES_CAPABILITIES = defineCapabilities({
  expiry: 'session',
  ttlResolutionMs: 100,
  nativeWait: true,
  fair: false,
  fencing: 'durable',
  lossSignal: true,
  maxKeyBytes: 65_536,
  inspect: true,
  sharedLocks: true,
})

/** How long `close()` waits for late-grant cleanups before it closes the sessions anyway. */
const CLOSE_GRACE_MS = 2_000

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
  readonly #pool: SessionPool
  readonly #held = new HeldLocks()
  readonly #heartbeat = new SessionHeartbeat(this.#held)
  readonly #background = new Set<Promise<unknown>>()
  readonly #closing = new AbortController()
  readonly #sequence: FenceSequence
  /** The server's limits, read with the first acquire; undefined until then. */
  #limits: ServerLimits | undefined
  #readingLimits: Promise<ServerLimits> | undefined
  #heldCap = Number.POSITIVE_INFINITY

  constructor(options: PostgresDriverOptions) {
    this.#options = resolvePostgresOptions(options)
    const statements = lockStatements(this.#options.fenceSchema, this.#options.fenceSequence)
    this.#sequence = new FenceSequence(() => this.#pool.forControl(this.#closing.signal))
    this.#pool = new SessionPool(this.#options.client, statements, this.#options, (s, cause) =>
      this.#sessionEnded(s, cause),
    )
    // connect now, so the first acquire does not pay for it (a failure shows at that acquire)
    this.#pool.warm()
  }

  /** Open lock sessions (connections) right now. */
  get sessionCount(): number {
    return this.#pool.size
  }

  async acquire(req: AcquireRequest): Promise<DriverLease | null> {
    const deadlineMs = performance.now() + req.waitMs
    const limits = this.#limits ?? (await this.#learnLimits())
    if (this.#held.size >= this.#heldCap) throw lockTableFullError(this.#held.size, limits)
    const key = advisoryKey(req.key)
    const lease = await this.#tryOnce(req, key, req.signal)
    if (lease !== null || !(req.waitMs > 0) || req.signal.aborted) return lease
    const signal = AbortSignal.any([req.signal, this.#closing.signal])
    const session = await this.#pool.forWait(key, req.ttlMs, signal)
    if (session === undefined) return null
    if (session === null) return this.#pollFor(req, key, deadlineMs, signal)
    return this.#settle(this.#waitOn(session, req, key, deadlineMs, signal), signal)
  }

  async renew(lease: DriverLease, ttlMs: number): Promise<RenewResult> {
    const [result] = await this.#heartbeat.renew([lease], ttlMs)
    return result ?? { ok: false }
  }

  async renewMany(leases: readonly DriverLease[], ttlMs: number): Promise<RenewResult[]> {
    return this.#heartbeat.renew(leases, ttlMs)
  }

  async release(lease: DriverLease): Promise<boolean> {
    const lock = this.#held.of(lease)
    if (lock === undefined) return false
    this.#held.delete(lock)
    const { session, hash } = lock
    session.held.delete(hash)
    if (session.ended) return false
    try {
      const { rows } = await session.query<{ released: boolean }>(
        session.statements.unlock,
        [hash.toString()],
        'baton_unlock',
      )
      return rows[0]?.released === true
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

  async inspect(key: string): Promise<LockInfo | null> {
    const pids = await this.#holders(advisoryKey(key))
    if (pids.length === 0) return null
    const mine = this.#held.byHash(advisoryKey(key))
    if (mine !== undefined && pids.includes(mine.session.pid)) {
      return { held: true, owner: mine.lease.owner, fence: mine.lease.fence }
    }
    return { held: true }
  }

  /**
   * Terminates the backend that holds `key` (`pg_terminate_backend`). Blast radius: every
   * other lock on that session is freed too and its holder sees them lost. Needs the same
   * role as the holder, `pg_signal_backend` membership or superuser.
   */
  async forceRelease(key: string): Promise<boolean> {
    const pids = await this.#holders(advisoryKey(key))
    let freed = false
    for (const pid of pids) {
      const { rows } = await this.#control('SELECT pg_terminate_backend($1) AS done', [pid])
      freed ||= rows[0]?.done === true
    }
    return freed
  }

  async close(): Promise<void> {
    if (this.#closing.signal.aborted) return
    this.#closing.abort(new Error('postgres driver closed'))
    // late-grant cleanups finish first, but an unreachable server must not hold close() up
    const grace = new AbortController()
    await Promise.race([
      Promise.allSettled([...this.#background]),
      sleep(CLOSE_GRACE_MS, grace.signal),
    ])
    grace.abort()
    await this.#pool.close()
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  /** One `pg_try_advisory_lock` + fence statement on a pipelined session. */
  async #tryOnce(
    req: AcquireRequest,
    key: bigint,
    signal: AbortSignal,
  ): Promise<DriverLease | null> {
    // core races every driver call against its deadline and releases a late grant, so the
    // fast path does not race again; only finding a session may wait
    for (let attempt = 1; ; attempt++) {
      const session =
        this.#pool.pickForKey(key, req.ttlMs) ??
        (await this.#pool.forKey(key, req.ttlMs, signal, req.waitMs > 0))
      if (session === undefined) return null
      try {
        return await this.#attempt(session, req, key)
      } catch (err) {
        // a session the server ended while idle (restart, idle timeout) whose end we had
        // not seen yet: nothing was granted on it, so one more try on a fresh session
        if (attempt > 1 || !endsSession(err) || signal.aborted) throw err
        session.destroy()
      }
    }
  }

  async #attempt(
    session: LockSession,
    req: AcquireRequest,
    key: bigint,
  ): Promise<DriverLease | null> {
    let lease: DriverLease | null = null
    try {
      let sentAtMs = performance.now()
      const tryLock = () =>
        session.query<{ fence: string | null; pid: number }>(
          session.statements.tryLock,
          [key.toString()],
          'baton_try',
        )
      const attempt = tryLock()
      // the liveness settings for this TTL queue right behind the grant, not in front of it:
      // nothing else runs on the session in between, and the grant costs one round trip
      if (session.needsConfigure) session.configure().catch(() => {})
      const { rows } = await attempt.catch(async (err: unknown) => {
        // 42P01 while parsing nextval('...'): the fence sequence does not exist yet (first use)
        if ((err as { code?: unknown }).code !== '42P01') throw err
        await this.#sequence.ensure()
        sentAtMs = performance.now()
        return tryLock()
      })
      assertSameBackend(session, rows[0]?.pid)
      const fence = rows[0]?.fence
      if (fence === null || fence === undefined) return null
      lease = this.#held.grant(session, req, key, BigInt(fence), sentAtMs)
      return lease
    } finally {
      if (lease === null) session.claimed.delete(key)
    }
  }

  async #waitOn(
    session: LockSession,
    req: AcquireRequest,
    key: bigint,
    deadlineMs: number,
    signal: AbortSignal,
  ): Promise<DriverLease | null> {
    let lease: DriverLease | null = null
    try {
      await session.configure()
      const sentAtMs = performance.now()
      const outcome = await waitOnServer(session, this.#pool, key, deadlineMs, signal)
      if (outcome === null) return null
      assertSameBackend(session, outcome.pid)
      lease = this.#held.grant(session, req, key, outcome.fence, sentAtMs)
      return lease
    } finally {
      session.waiting = false
      if (lease === null) session.claimed.delete(key)
    }
  }

  /** Fallback when every session is busy waiting (`maxSessions`): tries with bounded backoff. */
  async #pollFor(req: AcquireRequest, key: bigint, deadlineMs: number, signal: AbortSignal) {
    const backoff = new Backoff({ minMs: 5, maxMs: 250 })
    while (!signal.aborted && performance.now() < deadlineMs) {
      if (!(await sleep(backoff.next(deadlineMs - performance.now()), signal))) break
      const lease = await this.#tryOnce(req, key, signal)
      if (lease !== null) return lease
    }
    return null
  }

  /** Returns the work's lease, or null at once on abort; a lease granted after that is released (S4). */
  async #settle(
    work: Promise<DriverLease | null>,
    signal: AbortSignal,
  ): Promise<DriverLease | null> {
    const outcome = await untilAborted(work, signal)
    if (outcome !== ABORTED) return outcome
    this.#track(work.then((lease) => (lease === null ? false : this.release(lease))))
    return null
  }

  /**
   * Reads the server's connection and lock-table limits once, and caps sessions and held
   * locks so that the driver never takes every slot of either (see README "Server limits").
   */
  #learnLimits(): Promise<ServerLimits> {
    this.#readingLimits ??= (async () => {
      const session = await this.#pool.forControl(this.#closing.signal)
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
    const reason = this.#closing.signal.aborted
      ? new Error('postgres driver closed')
      : sessionEndedError(session, cause)
    this.#held.loseSession(session, reason)
  }

  async #holders(key: bigint): Promise<number[]> {
    const session = await this.#pool.forControl(this.#closing.signal)
    if (session === undefined) throw new Error('postgres driver closed')
    const { rows } = await session.query<{ pid: number }>(session.statements.holders, [
      key.toString(),
    ])
    return rows.map((r) => r.pid)
  }

  async #control(text: string, values: unknown[] = []) {
    const session = await this.#pool.forControl(this.#closing.signal)
    if (session === undefined) throw new Error('postgres driver closed')
    return session.query<Record<string, unknown>>(text, values)
  }

  #track(work: Promise<unknown>): void {
    const tracked: Promise<unknown> = work
      .catch(() => {})
      .finally(() => {
        this.#background.delete(tracked)
      })
    this.#background.add(tracked)
  }
}
