import { ABORTED, sleep, untilAborted } from '@baton-lock/core/driver'
import type { ClientConfig } from 'pg'
import { LockSession, type SessionEndListener } from './lock-session.js'
import type { LockStatements } from './lock-statements.js'
import { isTooManyConnections } from './server-limits.js'
import { livenessTtlMs } from './session-liveness.js'

/** Sizing of a `SessionPool`. */
export interface SessionPoolOptions {
  /** Most sessions open at once (holders, waiters and the pipelined work). */
  readonly maxSessions: number
  /** A session that holds nothing and was idle this long is closed (one is kept warm). */
  readonly idleSessionMs: number
}

/** Statements pipelined on one session before the pool prefers opening another. */
const PIPELINE_DEPTH = 128

/** After the server refused a connection (too many clients), how long the pool opens no more. */
const REFUSED_BACKOFF_MS = 1_000

/**
 * The driver's own lock sessions, in creation order. Non-blocking statements go to the
 * oldest session that may take the key, so held locks concentrate on few sessions and
 * later ones fall idle and are closed; each blocking wait gets a session of its own that
 * holds nothing. Sessions are claimed synchronously, so two requests never race for one.
 */
export class SessionPool {
  readonly #config: ClientConfig
  readonly #statements: LockStatements
  readonly #options: SessionPoolOptions
  readonly #onEnd: SessionEndListener
  readonly #sessions: LockSession[] = []
  readonly #opening = new Set<Promise<LockSession>>()
  readonly #reaper: NodeJS.Timeout
  #closed = false
  /** Most sessions right now: `maxSessions`, lowered by `limitTo` from the server's slots. */
  #cap: number
  /** Monotonic time until which no session is opened, after the server refused one (53300). */
  #refusedUntilMs = 0

  constructor(
    config: ClientConfig,
    statements: LockStatements,
    options: SessionPoolOptions,
    onEnd: SessionEndListener,
  ) {
    this.#config = config
    this.#statements = statements
    this.#options = options
    this.#onEnd = onEnd
    this.#cap = options.maxSessions
    this.#reaper = setInterval(() => this.#reap(), Math.max(250, options.idleSessionMs / 2))
    this.#reaper.unref()
  }

  /** Starts opening the first session now, so the first acquire does not pay for the connect. */
  warm(): void {
    if (this.#sessions.length + this.#opening.size === 0) this.#open().catch(() => {})
  }

  /** Opens at most `sessions` sessions from now on (never more than `maxSessions`). */
  limitTo(sessions: number): void {
    this.#cap = Math.max(1, Math.min(this.#options.maxSessions, sessions))
  }

  /** Live sessions (for tests and metrics). */
  get size(): number {
    return this.#sessions.length
  }

  /**
   * The oldest session that may take `key` now (not waiting, not claiming `key`, same
   * liveness TTL or nothing claimed), with `key` claimed for the caller; undefined when
   * none fits or the best one is deep in pipelined work while more sessions may open.
   */
  pickForKey(key: bigint, ttlMs: number): LockSession | undefined {
    const ttl = livenessTtlMs(ttlMs)
    let best: LockSession | undefined
    for (const s of this.#sessions) {
      if (!s.usable || s.waiting || s.claimed.has(key)) continue
      if (s.claimed.size > 0 && s.ttlMs !== ttl) continue
      if (s.inFlight < PIPELINE_DEPTH) {
        best = s
        break
      }
      if (best === undefined || s.inFlight < best.inFlight) best = s
    }
    if (best === undefined || (best.inFlight >= PIPELINE_DEPTH && this.#hasRoom())) return undefined
    best.claim(key, ttlMs)
    return best
  }

  /**
   * Like `pickForKey`, opening or waiting for a session when none fits; undefined when
   * aborted, or, unless `patient`, when none fits and no more may open. A connection the server refuses (too many clients) means "no free session
   * yet": with `patient` (the caller may wait) it tries again until aborted, otherwise
   * it throws when no session is open at all.
   */
  async forKey(
    key: bigint,
    ttlMs: number,
    signal: AbortSignal,
    patient = false,
  ): Promise<LockSession | undefined> {
    for (;;) {
      if (signal.aborted) return undefined
      const session = this.pickForKey(key, ttlMs)
      if (session !== undefined) return session
      if (!this.#hasRoom() && this.#opening.size === 0) {
        // every session is waiting or holds this key (e.g. `maxSessions` shared holds of
        // it): a single attempt answers "not now" at once, a waiting one waits for a session
        if (!patient) return undefined
        await sleep(5, signal)
        continue
      }
      try {
        const opened = await this.#openOrJoin(signal)
        if (opened === undefined) return undefined
      } catch (err) {
        if (!isTooManyConnections(err) || (!patient && this.#sessions.length === 0)) throw err
        await sleep(this.#sessions.length === 0 ? 100 : 5, signal)
      }
    }
  }

  /** An open session that holds nothing and has nothing in flight, marked waiting; undefined when there is none (opens nothing). */
  idleForWait(key: bigint, ttlMs: number): LockSession | undefined {
    const idle = this.#pick((s) => s.claimed.size === 0 && s.inFlight === 0)
    return idle === undefined ? undefined : this.#markWaiting(idle, key, ttlMs)
  }

  /** A session that holds nothing and has nothing in flight, marked waiting; null when at `maxSessions`. */
  async forWait(
    key: bigint,
    ttlMs: number,
    signal: AbortSignal,
  ): Promise<LockSession | null | undefined> {
    const idle = this.#pick((s) => s.claimed.size === 0 && s.inFlight === 0)
    if (idle !== undefined) return this.#markWaiting(idle, key, ttlMs)
    if (!this.#hasRoom()) return null
    const opening = this.#open()
    let session: LockSession | typeof ABORTED
    try {
      session = await untilAborted(opening, signal)
    } catch (err) {
      // the server has no slot for another waiting session: wait by polling instead
      if (isTooManyConnections(err)) return null
      throw err
    }
    if (session === ABORTED) return undefined
    if (session.waiting || session.claimed.size > 0 || !session.usable) {
      return this.forWait(key, ttlMs, signal)
    }
    return this.#markWaiting(session, key, ttlMs)
  }

  /** Any live session that is not waiting, for control statements (cancel, inspect). */
  async forControl(signal: AbortSignal): Promise<LockSession | undefined> {
    const best = this.#pick(() => true)
    if (best !== undefined) return best
    return this.#openOrJoin(signal)
  }

  /** Closes every session; the server frees their locks. */
  async close(): Promise<void> {
    this.#closed = true
    clearInterval(this.#reaper)
    await Promise.allSettled([...this.#opening])
    await Promise.all(this.#sessions.map((s) => s.close()))
  }

  #pick(fits: (s: LockSession) => boolean): LockSession | undefined {
    let best: LockSession | undefined
    for (const s of this.#sessions) {
      if (!s.usable || s.waiting || !fits(s)) continue
      if (s.inFlight < PIPELINE_DEPTH) return s
      if (best === undefined || s.inFlight < best.inFlight) best = s
    }
    return best
  }

  #markWaiting(session: LockSession, key: bigint, ttlMs: number): LockSession {
    session.waiting = true
    session.claim(key, ttlMs)
    return session
  }

  #hasRoom(): boolean {
    const open = this.#sessions.length + this.#opening.size
    if (open >= this.#cap) return false
    return open === 0 || performance.now() >= this.#refusedUntilMs
  }

  /** Joins a session being opened (it fits any statement), else opens one. */
  async #openOrJoin(signal: AbortSignal): Promise<LockSession | undefined> {
    const pending = this.#opening.values().next()
    const opening = pending.done === true ? this.#open() : pending.value
    const result = await untilAborted(opening, signal)
    return result === ABORTED ? undefined : result
  }

  #open(): Promise<LockSession> {
    if (this.#closed) return Promise.reject(new Error('postgres driver is closed'))
    const session = new LockSession(this.#config, this.#statements, (s, cause) => {
      const i = this.#sessions.indexOf(s)
      if (i >= 0) this.#sessions.splice(i, 1)
      this.#onEnd(s, cause)
    })
    const opening = session.open().then(
      () => {
        this.#opening.delete(opening)
        if (this.#closed) {
          return session.close().then(() => Promise.reject(new Error('postgres driver is closed')))
        }
        this.#sessions.push(session)
        return session
      },
      async (err: unknown) => {
        this.#opening.delete(opening)
        if (isTooManyConnections(err)) this.#refusedUntilMs = performance.now() + REFUSED_BACKOFF_MS
        await session.close()
        throw err
      },
    )
    this.#opening.add(opening)
    opening.catch(() => {})
    return opening
  }

  #reap(): void {
    const now = performance.now()
    let kept = false
    for (const s of [...this.#sessions]) {
      const idle = !s.waiting && s.claimed.size === 0 && s.inFlight === 0
      if (idle && now - s.lastUsedMs >= this.#options.idleSessionMs && kept) {
        s.close().catch(() => {})
        continue
      }
      if (s.usable) kept = true
    }
  }
}
