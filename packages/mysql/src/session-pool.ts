import { ABORTED, sleep, untilAborted } from '@baton-lock/core/driver'
import type { ConnectionOptions } from 'mysql2'
import { LockSession, type SessionEndListener } from './lock-session.js'
import type { LockStatements } from './lock-statements.js'
import { sessionTtlMs } from './session-liveness.js'

/** Sizing of a `SessionPool`. */
export interface SessionPoolOptions {
  /** Most sessions open at once (holders, waiters and the pipelined work). */
  readonly maxSessions: number
  /** Most sessions that concurrent non-blocking statements are spread over before they queue on one. */
  readonly maxTrySessions: number
  /** A session that holds nothing and was idle this long is closed (one is kept warm). */
  readonly idleSessionMs: number
}

/** Statements queued on one session (mysql2 sends them one after another) before the pool prefers opening another. */
const PIPELINE_DEPTH = 16
/** After a session failed to open, no session is opened ahead of need for this long. */
const SPREAD_BACKOFF_MS = 1_000

/**
 * The driver's own lock sessions, in creation order. mysql2 sends a connection's
 * statements one after another (no pipelining), so statements on one session wait for
 * each other's round trips: a non-blocking statement goes to the oldest session that may
 * take the key and has nothing in flight, and when every such session is busy the pool
 * opens one more (in the background, up to `maxTrySessions`) while the statement queues
 * on the least busy one. Without concurrent demand held locks concentrate on the oldest
 * sessions, and sessions that hold nothing fall idle and are closed; each blocking wait
 * gets a session of its own that holds nothing. Sessions are claimed synchronously, so
 * two requests never race for one.
 */
export class SessionPool {
  readonly #config: ConnectionOptions
  readonly #statements: LockStatements
  readonly #options: SessionPoolOptions
  readonly #onEnd: SessionEndListener
  readonly #sessions: LockSession[] = []
  readonly #opening = new Set<Promise<LockSession>>()
  /** The sessions behind `#opening`, so that close() can drop a connect that hangs. */
  readonly #connecting = new Set<LockSession>()
  readonly #reaper: NodeJS.Timeout
  #closed = false
  /** Monotonic time before which no session is opened ahead of need (a connect failed). */
  #spreadAfterMs = 0

  constructor(
    config: ConnectionOptions,
    statements: LockStatements,
    options: SessionPoolOptions,
    onEnd: SessionEndListener,
  ) {
    this.#config = config
    this.#statements = statements
    this.#options = options
    this.#onEnd = onEnd
    this.#reaper = setInterval(() => this.#reap(), Math.max(250, options.idleSessionMs / 2))
    this.#reaper.unref()
  }

  /** Starts opening the first session now, so the first acquire does not pay for the connect. */
  warm(): void {
    if (this.#sessions.length + this.#opening.size === 0) this.#open().catch(() => {})
  }

  /** Live sessions (for tests and metrics). */
  get size(): number {
    return this.#sessions.length
  }

  /**
   * The oldest session that may take `key` now (not waiting, not claiming `key`, same
   * liveness TTL or nothing claimed) and has nothing in flight, else the least busy one,
   * with `key` claimed for the caller; undefined when none fits or the best one is deep in
   * pipelined work while more sessions may open. When every fitting session is busy,
   * another one starts opening for the next statements (up to `maxTrySessions`).
   */
  pickForKey(name: string, ttlMs: number): LockSession | undefined {
    const ttl = sessionTtlMs(ttlMs)
    let best: LockSession | undefined
    let fitting = 0
    for (const s of this.#sessions) {
      if (!s.usable || s.waiting) continue
      if (s.claimed.size > 0 && s.ttlMs !== ttl) continue
      fitting++
      if (s.claimed.has(name)) continue
      if (s.inFlight === 0) {
        best = s
        break
      }
      if (best === undefined || s.inFlight < best.inFlight) best = s
    }
    if (best === undefined || best.inFlight > 0) this.#spread(fitting)
    if (best === undefined || (best.inFlight >= PIPELINE_DEPTH && this.#hasRoom())) return undefined
    best.claim(name, ttlMs)
    return best
  }

  /** Like `pickForKey`, opening or waiting for a session when none fits; undefined when aborted. */
  async forKey(name: string, ttlMs: number, signal: AbortSignal): Promise<LockSession | undefined> {
    for (;;) {
      if (signal.aborted) return undefined
      const session = this.pickForKey(name, ttlMs)
      if (session !== undefined) return session
      if (!this.#hasRoom() && this.#opening.size === 0) {
        // every session is waiting or holds this key: wait for one to come free
        await sleep(5, signal)
        continue
      }
      const opened = await this.#openOrJoin(signal)
      if (opened === undefined) return undefined
    }
  }

  /** An open session that holds nothing and has nothing in flight, marked waiting; undefined when none is. */
  idleForWait(name: string, ttlMs: number): LockSession | undefined {
    const idle = this.#pick((s) => s.claimed.size === 0 && s.inFlight === 0)
    return idle === undefined ? undefined : this.#markWaiting(idle, name, ttlMs)
  }

  /** A session that holds nothing and has nothing in flight, marked waiting; null when at `maxSessions`. */
  async forWait(
    name: string,
    ttlMs: number,
    signal: AbortSignal,
  ): Promise<LockSession | null | undefined> {
    const idle = this.idleForWait(name, ttlMs)
    if (idle !== undefined) return idle
    if (!this.#hasRoom()) return null
    const opening = this.#open()
    const session = await untilAborted(opening, signal)
    if (session === ABORTED) return undefined
    if (session.waiting || session.claimed.size > 0 || !session.usable) {
      return this.forWait(name, ttlMs, signal)
    }
    return this.#markWaiting(session, name, ttlMs)
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
    // a connect to an unreachable server would hang until connectTimeout: drop it
    for (const session of this.#connecting) session.destroy()
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

  #markWaiting(session: LockSession, name: string, ttlMs: number): LockSession {
    session.waiting = true
    session.claim(name, ttlMs)
    return session
  }

  /** Opens one more session ahead of need while fewer than `maxTrySessions` fit and none is opening. */
  #spread(fitting: number): void {
    if (this.#opening.size > 0 || fitting >= this.#options.maxTrySessions) return
    if (!this.#hasRoom() || this.#closed || performance.now() < this.#spreadAfterMs) return
    this.#open().catch(() => {
      this.#spreadAfterMs = performance.now() + SPREAD_BACKOFF_MS
    })
  }

  #hasRoom(): boolean {
    return this.#sessions.length + this.#opening.size < this.#options.maxSessions
  }

  /** Joins a session being opened (it fits any statement), else opens one. */
  async #openOrJoin(signal: AbortSignal): Promise<LockSession | undefined> {
    const pending = this.#opening.values().next()
    const opening = pending.done === true ? this.#open() : pending.value
    const result = await untilAborted(opening, signal)
    return result === ABORTED ? undefined : result
  }

  #open(): Promise<LockSession> {
    if (this.#closed) return Promise.reject(new Error('mysql driver is closed'))
    const session = new LockSession(this.#config, this.#statements, (s, cause) => {
      const i = this.#sessions.indexOf(s)
      if (i >= 0) this.#sessions.splice(i, 1)
      this.#onEnd(s, cause)
    })
    const opening = session.open().then(
      () => {
        this.#opening.delete(opening)
        this.#connecting.delete(session)
        if (this.#closed) {
          return session.close().then(() => Promise.reject(new Error('mysql driver is closed')))
        }
        this.#sessions.push(session)
        return session
      },
      async (err: unknown) => {
        this.#opening.delete(opening)
        this.#connecting.delete(session)
        await session.close()
        throw err
      },
    )
    this.#opening.add(opening)
    this.#connecting.add(session)
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
