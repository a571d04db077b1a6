import type { ClientConfig, QueryResultRow } from 'pg'
import pg from 'pg'
import type { LockStatements } from './lock-statements.js'
import { livenessSql, livenessTtlMs, sessionLiveness } from './session-liveness.js'

/** How long `close()` waits for the server to acknowledge the goodbye before dropping the socket. */
const CLOSE_TIMEOUT_MS = 2_000

/** A named statement with its parameters, built once per lock and sent as is. */
export interface RowQuery {
  readonly name: string
  readonly text: string
  readonly values: readonly RowValue[]
}

/** The `RowQuery` of statement `name` with `values`. */
export function rowQuery(name: string, text: string, values: readonly RowValue[]): RowQuery {
  return Object.freeze({ name, text, values })
}

/** One row of a statement, by column name. */
export type Row = Readonly<Record<string, unknown>>

/** A parameter of a per-lock statement: sent in text format, as `pg` would send it. */
export type RowValue = string | number | bigint | boolean | null

/** The column names and text-format parsers of a statement's rows, from its RowDescription. */
interface RowShape {
  readonly names: readonly string[]
  readonly parsers: ReadonlyArray<(text: string) => unknown>
}

type RowCallback = (err: unknown, row?: Row) => void

/**
 * A per-lock statement on `pg`'s wire protocol, without `pg`'s result machinery: `pg`
 * rebuilds the column parsers and a template row from the RowDescription of every
 * statement, runs a regular expression over every CommandComplete and emits `row` and
 * `end` events nobody listens to; in the hand-off and uncontended profiles that is the
 * largest share of the client's time per statement. Here the session keeps each
 * statement's shape (names, parsers) from its first RowDescription and asks for no
 * Describe after that; the first row is decoded by those parsers, exactly as `pg` does.
 * A subclass of `pg.Query`, because pipeline mode only takes those.
 */
class RowStatement extends (pg.Query as unknown as QueryBase) {
  readonly #query: RowQuery
  readonly #shapes: Map<string, RowShape>
  readonly #done: RowCallback
  #shape: RowShape | undefined
  #row: Row | undefined

  constructor(query: RowQuery, shapes: Map<string, RowShape>, done: RowCallback) {
    super(query.text)
    // what `pg` reads of a named statement: its name (parse bookkeeping) and values
    this.name = query.name
    this.values = query.values
    this.#query = query
    this.#shapes = shapes
    this.#shape = shapes.get(query.name)
    this.#done = done
  }

  /** Parse (first use on the connection), Bind, Describe (until the shape is known), Execute, Sync. */
  prepare(connection: WireConnection): void {
    const { name, text, values } = this.#query
    if (!this.hasBeenParsed(connection)) {
      connection.parse({ text, name, types: undefined })
      connection.submittedNamedStatements[name] = text
    }
    connection.bind({ portal: '', statement: name, values: values.map(wireValue) })
    if (this.#shape === undefined) connection.describe({ type: 'P', name: '' })
    connection.execute({ portal: '', rows: undefined })
    connection.sync()
  }

  handleRowDescription(msg: { fields: ReadonlyArray<{ name: string; dataTypeID: number }> }): void {
    const shape: RowShape = {
      names: msg.fields.map((f) => f.name),
      parsers: msg.fields.map(
        (f) => pg.types.getTypeParser(f.dataTypeID, 'text') as (t: string) => unknown,
      ),
    }
    this.#shape = shape
    this.#shapes.set(this.#query.name, shape)
  }

  handleDataRow(msg: { fields: ReadonlyArray<string | null> }): void {
    const shape = this.#shape
    if (this.#row !== undefined || shape === undefined) return
    const row: Record<string, unknown> = {}
    const { names, parsers } = shape
    for (let i = 0; i < names.length; i++) {
      const text = msg.fields[i]
      row[names[i] as string] =
        text === null || text === undefined ? null : (parsers[i] as (t: string) => unknown)(text)
    }
    this.#row = row
  }

  handleCommandComplete(): void {}

  handleReadyForQuery(): void {
    this.#done(undefined, this.#row)
  }

  handleError(err: Error): void {
    this.#done(err)
  }
}

/** `pg.Query` with the members a statement subclass uses (`pg`'s types leave them out). */
type QueryBase = new (
  text: string,
) => {
  name: string | undefined
  values: readonly RowValue[] | undefined
  hasBeenParsed(connection: WireConnection): boolean
}

/** The part of `pg`'s Connection a statement writes to (not in `pg`'s types). */
interface WireConnection {
  readonly submittedNamedStatements: Record<string, string>
  parse(msg: { text: string; name: string; types: undefined }): void
  bind(msg: { portal: string; statement: string; values: Array<string | null> }): void
  describe(msg: { type: 'P'; name: string }): void
  execute(msg: { portal: string; rows: undefined }): void
  sync(): void
}

/** A parameter as `pg`'s prepareValue sends a primitive: null, or its `toString()`. */
function wireValue(value: RowValue): string | null {
  return value === null || value === undefined
    ? null
    : typeof value === 'string'
      ? value
      : value.toString()
}

/** Called once when a session's connection ends, with the error that ended it if any. */
export type SessionEndListener = (session: LockSession, cause: unknown) => void

/**
 * One dedicated PostgreSQL connection that holds advisory locks. Statements that never
 * block (try, unlock, heartbeat) are pipelined on it; a blocking wait needs the whole
 * session, so the pool only starts one on a session that holds nothing and has nothing
 * in flight (a release or heartbeat must never queue behind a wait).
 */
export class LockSession {
  /**
   * Backend pid: from the startup message after `open()`, then confirmed by the pid the
   * first statement reports (a pooler in session mode announces a made-up pid).
   */
  pid = 0
  /** True once a statement reported the pid; a different pid after that means transaction pooling. */
  pidConfirmed = false
  /** `server_version_num`, known after `open()`. */
  serverVersion = 0
  /** Keys (advisory bigints) this session holds or has a grant statement in flight for. */
  readonly claimed = new Set<bigint>()
  /** Keys granted to this session and not yet released. */
  readonly held = new Set<bigint>()
  /** True while a blocking wait runs; nothing else is sent meanwhile. */
  waiting = false
  /** Monotonic time of the last statement answered (one in flight keeps the session busy anyway). */
  lastUsedMs = performance.now()
  /** Called with the channel of every notification this session receives (LISTEN). */
  onNotify: ((channel: string) => void) | undefined

  readonly #client: pg.Client
  /** The row shape of each per-lock statement, learnt from its first answer on this connection. */
  readonly #shapes = new Map<string, RowShape>()
  readonly #statements: LockStatements
  #inFlight = 0
  #ttlMs = 0
  #appliedTtlMs = 0
  #ended = false
  #closing = false
  #cause: unknown
  readonly #onEnd: SessionEndListener

  constructor(config: ClientConfig, statements: LockStatements, onEnd: SessionEndListener) {
    // pipeline mode (pg >= 8.23): independent statements do not wait for each other's answers
    this.#client = new pg.Client({ ...config, pipeline: true } as ClientConfig)
    this.#statements = statements
    this.#onEnd = onEnd
    this.#client.on('error', (err) => {
      this.#cause ??= err
    })
    this.#client.on('notice', () => {})
    this.#client.on('notification', (msg) => this.onNotify?.(msg.channel))
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
    if (this.claimed.size === 0) this.#ttlMs = livenessTtlMs(ttlMs)
    this.claimed.add(key)
  }

  /** False from `close()` or the connection's end on: no new statement may be sent. */
  get usable(): boolean {
    return !this.#ended && !this.#closing
  }

  /** True once the connection is gone; a dead session holds nothing. */
  get ended(): boolean {
    return this.#ended
  }

  /** Connects; the backend pid and server version arrive in the startup messages, so no query is needed. */
  async open(): Promise<void> {
    const connection = (this.#client as unknown as { connection: NodeJS.EventEmitter }).connection
    connection.on('parameterStatus', (msg: { parameterName: string; parameterValue: string }) => {
      if (msg.parameterName === 'server_version')
        this.serverVersion = versionNumber(msg.parameterValue)
    })
    await this.#client.connect()
    this.pid = (this.#client as unknown as { processID: number }).processID
    // Fences are durable only if the commit of a statement that advanced the sequence waits
    // for its WAL flush: a server (or role) default of synchronous_commit = off would let a
    // crash hand out a fence again. The setting is the session's own, so force it here.
    await this.#client.query('SET synchronous_commit TO on')
  }

  /**
   * Lengthens the session's liveness TTL to `ttlMs` (an `extend` beyond it). Never shortens
   * it while locks are held: the other locks on the session were promised the longer one.
   */
  raiseTtl(ttlMs: number): void {
    const ttl = livenessTtlMs(ttlMs)
    if (ttl > this.#ttlMs) this.#ttlMs = ttl
  }

  /** True when the claimed TTL's liveness settings are not applied yet. */
  get needsConfigure(): boolean {
    return this.#ttlMs !== this.#appliedTtlMs
  }

  /** Applies the liveness settings of the claimed TTL unless they are already in force. */
  async configure(): Promise<void> {
    if (this.#ttlMs === this.#appliedTtlMs) return
    const ttl = this.#ttlMs
    this.#appliedTtlMs = ttl
    try {
      await this.query(livenessSql(sessionLiveness(ttl, this.serverVersion)))
    } catch (err) {
      if (this.#appliedTtlMs === ttl) this.#appliedTtlMs = 0
      throw err
    }
  }

  /**
   * Sends a statement (named, so it is parsed once per session) and counts it in flight.
   * The connection is in `pg`'s pipeline mode: statements go on the wire at once, each
   * with its own Sync (an error ends only its own statement), and answers come in order.
   */
  async query<R extends QueryResultRow = QueryResultRow>(
    text: string,
    values?: unknown[],
    name?: string,
  ): Promise<pg.QueryResult<R>> {
    this.#inFlight++
    try {
      return await this.#client.query<R>(
        name === undefined ? { text, values } : { name, text, values },
      )
    } finally {
      this.#inFlight--
      this.lastUsedMs = performance.now()
    }
  }

  /**
   * The first row of a named per-lock statement, or undefined when it returned none. Hot
   * path: the statement goes in as a `RowStatement`, which skips `pg`'s own promise, its
   * stack-rewriting `catch` and its result building for every statement.
   */
  row(query: RowQuery): Promise<Row | undefined> {
    this.#inFlight++
    return new Promise((resolve, reject) => {
      let answered = false
      const settle = (err: unknown, row?: Row) => {
        if (answered) return
        answered = true
        this.#inFlight--
        this.lastUsedMs = performance.now()
        if (err === undefined || err === null) resolve(row)
        else reject(err)
      }
      try {
        this.#client.query(new RowStatement(query, this.#shapes, settle) as unknown as pg.Query)
      } catch (err) {
        settle(err)
      }
    })
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
      await this.#client.end()
    } catch {
      // already broken: 'end' still fires and marks the session ended
    } finally {
      clearTimeout(timer)
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

/** `server_version` ("15.4 (Debian 15.4-1)", "9.6.24") as `server_version_num` (150004, 90624). */
export function versionNumber(version: string): number {
  const [major = 0, minor = 0, patch = 0] = version.split(/[^0-9]+/).map(Number)
  return major >= 10 ? major * 10_000 + minor : major * 10_000 + minor * 100 + patch
}
