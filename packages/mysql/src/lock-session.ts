import mysql, { type Connection, type ConnectionOptions, type PrepareStatementInfo } from 'mysql2'
import type { LockStatements } from './lock-statements.js'
import { waitTimeoutSeconds } from './session-liveness.js'

/** How long `close()` waits for the server to acknowledge the goodbye before dropping the socket. */
const CLOSE_TIMEOUT_MS = 2_000

/** Called once when a session's connection ends, with the error that ended it if any. */
export type SessionEndListener = (session: LockSession, cause: unknown) => void

/** One row of a result set, as mysql2 returns it. */
export type Row = Record<string, unknown>

/**
 * One dedicated MySQL connection that holds `GET_LOCK` names. mysql2 sends its commands
 * one after another on the connection; statements that never block (try, release,
 * heartbeat) share a session, while a blocking wait needs the whole session, so the pool
 * only starts one on a session that holds nothing and has nothing in flight (a release or
 * heartbeat must never queue behind a wait).
 */
export class LockSession {
  /** Connection id (`CONNECTION_ID()`, the id `KILL` takes), from the handshake. */
  id = 0
  /** Server version string from the handshake, e.g. `10.11.6-MariaDB-0+deb12u1`. */
  serverVersion = ''
  /** Lock names this session holds or has a grant statement in flight for. */
  readonly claimed = new Set<string>()
  /** Lock names granted to this session and not yet released. */
  readonly held = new Set<string>()
  /** True while a blocking wait runs; nothing else is sent meanwhile. */
  waiting = false
  /** True once `statements.prepareWait` ran on this session (a wait's fence bump is prepared). */
  waitPrepared = false
  /** Monotonic time of the last statement sent or answered. */
  lastUsedMs = performance.now()

  readonly #connection: Connection
  readonly #statements: LockStatements
  /** Statements `execute` prepared on this connection, by SQL text: later calls send only the execute. */
  readonly #prepared = new Map<string, PrepareStatementInfo>()
  #inFlight = 0
  #waitTimeoutS = 0
  #appliedWaitTimeoutS = 0
  #ended = false
  #closing = false
  #cause: unknown
  readonly #onEnd: SessionEndListener
  #notifyEnded: () => void = () => {}
  readonly #endedSignal = new Promise<void>((resolve) => {
    this.#notifyEnded = resolve
  })

  constructor(options: ConnectionOptions, statements: LockStatements, onEnd: SessionEndListener) {
    this.#connection = mysql.createConnection(options)
    this.#statements = statements
    this.#onEnd = onEnd
    this.#connection.on('error', (err: unknown) => {
      this.#cause ??= err
      // a fatal error (socket gone, server closed the session) ends the session
      this.#markEnded()
    })
    this.#connection.on('end', () => this.#markEnded())
    const stream = (this.#connection as unknown as { stream?: NodeJS.EventEmitter }).stream
    stream?.on('close', () => this.#markEnded())
  }

  /** Statements sent and not yet answered. */
  get inFlight(): number {
    return this.#inFlight
  }

  /** The liveness TTL the session's `wait_timeout` implements, in ms (0 before the first claim). */
  get ttlMs(): number {
    return this.#waitTimeoutS * 1000
  }

  /**
   * Claims `name` for a statement of the caller, synchronously, so no other request can
   * take this session for the same name. The first claim on a session that holds nothing
   * picks its `wait_timeout`; the next statement applies it.
   */
  claim(name: string, ttlMs: number): void {
    if (this.claimed.size === 0) this.#waitTimeoutS = waitTimeoutSeconds(ttlMs)
    this.claimed.add(name)
  }

  /**
   * Lengthens the session's `wait_timeout` to fit `ttlMs` (an `extend` beyond it). Never
   * shortens it while locks are held: the other locks on the session were promised the longer one.
   */
  raiseTtl(ttlMs: number): void {
    const seconds = waitTimeoutSeconds(ttlMs)
    if (seconds > this.#waitTimeoutS) this.#waitTimeoutS = seconds
  }

  /**
   * `SET SESSION wait_timeout = N; ` when the claimed TTL is not applied yet, else ''. The
   * caller sends it in front of its statement, in the same round trip, and the setting is
   * counted as applied from then on (a failed statement drops the session anyway).
   */
  takeSettings(): string {
    if (this.#waitTimeoutS === this.#appliedWaitTimeoutS) return ''
    this.#appliedWaitTimeoutS = this.#waitTimeoutS
    return `SET SESSION wait_timeout = ${this.#waitTimeoutS}; `
  }

  /** False from `close()` or the connection's end on: no new statement may be sent. */
  get usable(): boolean {
    return !this.#ended && !this.#closing
  }

  /** True once the connection is gone; a dead session holds nothing. */
  get ended(): boolean {
    return this.#ended
  }

  /** Connects; the connection id and server version arrive in the handshake, so no query is needed. */
  async open(): Promise<void> {
    const connected = new Promise<void>((resolve, reject) => {
      this.#connection.connect((err) => (err ? reject(err) : resolve()))
    })
    // destroy() while connecting (close() of the driver) must not leave open() pending
    const dropped = this.#endedSignal.then(() => {
      throw this.#cause ?? new Error('mysql: connection closed while connecting')
    })
    dropped.catch(() => {})
    await Promise.race([connected, dropped])
    this.id = this.#connection.threadId
    const handshake = (
      this.#connection as unknown as { _handshakePacket?: { serverVersion?: string } }
    )._handshakePacket
    this.serverVersion = handshake?.serverVersion ?? ''
  }

  /** Sends `sql` (with `?` values escaped client-side) and counts it in flight; resolves with mysql2's result. */
  async query(sql: string, values?: unknown[]): Promise<unknown> {
    this.#inFlight++
    this.lastUsedMs = performance.now()
    try {
      return await new Promise<unknown>((resolve, reject) => {
        this.#connection.query(sql, values, (err, result) => (err ? reject(err) : resolve(result)))
      })
    } finally {
      this.#inFlight--
      this.lastUsedMs = performance.now()
    }
  }

  /**
   * Runs `sql` as a prepared statement (binary protocol): the server skips parsing the text
   * on every call, which is a large part of a short statement's cost. The first call
   * prepares it (mysql2 queues the prepare and the execute back to back); later calls
   * execute the kept statement directly, without mysql2's per-call prepare-cache lookup.
   * One statement only.
   */
  async execute(sql: string, values: Array<string | number | null>): Promise<unknown> {
    this.#inFlight++
    this.lastUsedMs = performance.now()
    try {
      return await new Promise<unknown>((resolve, reject) => {
        const statement = this.#prepared.get(sql)
        if (statement !== undefined) {
          statement.execute(values, (err: unknown, result: unknown) =>
            err ? reject(err) : resolve(result),
          )
          return
        }
        const command = this.#connection.execute(sql, values, (err, result) => {
          // set by mysql2 once the prepare succeeded (also when the execute then failed)
          const prepared = (command as unknown as { statement?: PrepareStatementInfo }).statement
          if (prepared !== undefined) this.#prepared.set(sql, prepared)
          if (err) reject(err)
          else resolve(result)
        })
      })
    } finally {
      this.#inFlight--
      this.lastUsedMs = performance.now()
    }
  }

  /** The last result set's first row of a (multi-statement) query. */
  async row(sql: string, values?: unknown[]): Promise<Row | undefined> {
    const result = await this.query(sql, values)
    return lastRow(result)
  }

  /** The statements of this driver. */
  get statements(): LockStatements {
    return this.#statements
  }

  /** Ends the connection; the server frees every lock the session holds. Idempotent. */
  async close(): Promise<void> {
    if (this.#ended) return
    this.#closing = true
    // a server that stopped answering must not hold close() up: drop the socket after a while
    const timer = setTimeout(() => this.destroy(), CLOSE_TIMEOUT_MS)
    try {
      const ended = new Promise<void>((resolve) => this.#connection.end(() => resolve()))
      // after a destroy() mysql2 may never call back: the session's end settles it too
      await Promise.race([ended, this.#endedSignal])
    } finally {
      clearTimeout(timer)
    }
    this.destroy()
    this.#markEnded()
  }

  /** Drops the socket at once (no goodbye); the server frees the session's locks when it notices. */
  destroy(): void {
    this.#connection.destroy()
    this.#markEnded()
  }

  #markEnded(): void {
    if (this.#ended) return
    this.#ended = true
    this.held.clear()
    this.claimed.clear()
    this.#notifyEnded()
    this.#onEnd(this, this.#cause)
  }
}

/**
 * The OK packet (mysql2's `ResultSetHeader`) of the last statement in `result`: the result
 * itself for one statement, the last entry for several.
 */
export function lastHeader(result: unknown): unknown {
  return Array.isArray(result) ? result[result.length - 1] : result
}

/**
 * The first row of the last result set in `result`: mysql2 returns the rows of a single
 * statement, and one entry per statement (rows, or an OK header) for several.
 */
export function lastRow(result: unknown): Row | undefined {
  if (!Array.isArray(result)) return undefined
  if (!result.some((entry) => Array.isArray(entry))) return result[0] as Row | undefined
  for (let i = result.length - 1; i >= 0; i--) {
    const set: unknown = result[i]
    if (Array.isArray(set)) return set[0] as Row | undefined
  }
  return undefined
}
