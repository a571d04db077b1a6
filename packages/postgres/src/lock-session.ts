import type { ClientConfig, QueryResultRow } from 'pg'
import pg from 'pg'
import type { LockStatements } from './lock-statements.js'
import { livenessSql, sessionLiveness } from './session-liveness.js'

/** Called once when a session's connection ends, with the error that ended it if any. */
export type SessionEndListener = (session: LockSession, cause: unknown) => void

/**
 * One dedicated PostgreSQL connection that holds advisory locks. Statements that never
 * block (try, unlock, heartbeat) are pipelined on it; a blocking wait needs the whole
 * session, so the pool only starts one on a session that holds nothing and has nothing
 * in flight (a release or heartbeat must never queue behind a wait).
 */
export class LockSession {
  /** Backend pid, known after `open()`. */
  pid = 0
  /** `server_version_num`, known after `open()`. */
  serverVersion = 0
  /** Keys (advisory bigints) this session holds or has a grant statement in flight for. */
  readonly claimed = new Set<bigint>()
  /** Keys granted to this session and not yet released. */
  readonly held = new Set<bigint>()
  /** True while a blocking wait runs; nothing else is sent meanwhile. */
  waiting = false
  /** Monotonic time of the last statement sent or answered. */
  lastUsedMs = performance.now()

  readonly #client: pg.Client
  readonly #statements: LockStatements
  #inFlight = 0
  #ttlMs = 0
  #appliedTtlMs = 0
  #tail: Promise<void> = Promise.resolve()
  #ended = false
  #cause: unknown
  readonly #onEnd: SessionEndListener

  constructor(config: ClientConfig, statements: LockStatements, onEnd: SessionEndListener) {
    this.#client = new pg.Client(config)
    this.#statements = statements
    this.#onEnd = onEnd
    this.#client.on('error', (err) => {
      this.#cause ??= err
    })
    this.#client.on('notice', () => {})
    this.#client.on('end', () => this.#markEnded())
  }

  /** Statements sent and not yet answered. */
  get inFlight(): number {
    return this.#inFlight
  }

  /** The TTL the session's liveness settings implement, or are about to (0 before the first claim). */
  get ttlMs(): number {
    return this.#ttlMs
  }

  /**
   * Claims `key` for a statement of the caller, synchronously, so no other request can
   * take this session for the same key. The first claim on a session that holds nothing
   * picks its liveness TTL; `configure()` applies it.
   */
  claim(key: bigint, ttlMs: number): void {
    if (this.claimed.size === 0) this.#ttlMs = sessionLiveness(ttlMs, this.serverVersion).ttlMs
    this.claimed.add(key)
  }

  /** True once the connection is gone; a dead session holds nothing. */
  get ended(): boolean {
    return this.#ended
  }

  /** Connects and reads the backend pid and server version. */
  async open(): Promise<void> {
    await this.#client.connect()
    const { rows } = await this.query<{ pid: number; version: number }>(
      "SELECT pg_backend_pid() AS pid, current_setting('server_version_num')::int AS version",
    )
    this.pid = rows[0]?.pid ?? 0
    this.serverVersion = rows[0]?.version ?? 0
  }

  /** Applies the liveness settings of the claimed TTL unless they are already in force. */
  async configure(): Promise<void> {
    if (this.#ttlMs === this.#appliedTtlMs) return
    this.#appliedTtlMs = this.#ttlMs
    await this.query(livenessSql(sessionLiveness(this.#ttlMs, this.serverVersion)))
  }

  /** Sends a statement (named, so it is parsed once per session) and counts it in flight. */
  async query<R extends QueryResultRow = QueryResultRow>(
    text: string,
    values?: unknown[],
    name?: string,
  ): Promise<pg.QueryResult<R>> {
    this.#inFlight++
    this.lastUsedMs = performance.now()
    // our own FIFO, one statement at a time on the connection (pg 9 drops its implicit queue)
    const config = name === undefined ? { text, values } : { name, text, values }
    const run = this.#tail.then(() => this.#client.query<R>(config))
    this.#tail = run.then(
      () => {},
      () => {},
    )
    try {
      return await run
    } finally {
      this.#inFlight--
      this.lastUsedMs = performance.now()
    }
  }

  /** The statements of this driver. */
  get statements(): LockStatements {
    return this.#statements
  }

  /** Ends the connection; the server frees every lock the session holds. Idempotent. */
  async close(): Promise<void> {
    if (this.#ended) return
    try {
      await this.#client.end()
    } catch {
      // already broken: 'end' still fires and marks the session ended
    }
    this.#markEnded()
  }

  /** Drops the socket at once (no goodbye), e.g. when a cancel could not be delivered. */
  destroy(): void {
    const connection = (
      this.#client as unknown as { connection?: { stream?: { destroy(): void } } }
    ).connection
    connection?.stream?.destroy()
  }

  #markEnded(): void {
    if (this.#ended) return
    this.#ended = true
    this.held.clear()
    this.claimed.clear()
    this.#onEnd(this, this.#cause)
  }
}
