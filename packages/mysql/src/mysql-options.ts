import { redact } from '@baton-lock/core/driver'
import type { ConnectionOptions } from 'mysql2'

/** How to build a `MysqlDriver`. Give exactly one of `url` and `config`. */
export interface MysqlDriverOptions {
  /** `mysql://user:password@host:port/database` (or `mariadb://`); port 3306 by default. */
  readonly url?: string
  /**
   * mysql2 connection options; the driver opens its own connections (lock sessions) from
   * them and never borrows the application's. `multipleStatements`, `charset` and the
   * number options are set by the driver.
   */
  readonly config?: ConnectionOptions
  /** Table of fence counters, created on first use. Default `baton_fence`. */
  readonly fenceTable?: string
  /** Database of the fence table. Default: the connection's database. */
  readonly fenceDatabase?: string
  /** Most lock sessions (connections) open at once. Default 64. */
  readonly maxSessions?: number
  /**
   * Most sessions that concurrent non-blocking statements (tries, releases) are spread
   * over: mysql2 runs one statement at a time per connection, so independent keys used at
   * once would otherwise wait for each other's round trips. Sessions beyond the first open
   * only while statements queue, and close again after `idleSessionMs` once they hold
   * nothing. Default 8, at most `maxSessions`.
   */
  readonly maxTrySessions?: number
  /** A session that holds nothing is closed after this long idle, in ms (one stays open). Default 10 000. */
  readonly idleSessionMs?: number
  /** Connect timeout per session, in ms. Default 10 000. */
  readonly connectTimeoutMs?: number
}

/** Options after defaults, frozen. */
export interface ResolvedMysqlOptions {
  readonly connection: ConnectionOptions
  readonly fenceTable: string
  readonly fenceDatabase: string | undefined
  readonly maxSessions: number
  readonly maxTrySessions: number
  readonly idleSessionMs: number
}

/** Checks the options, applies defaults and builds the mysql2 options of every session. */
export function resolveMysqlOptions(options: MysqlDriverOptions): ResolvedMysqlOptions {
  if ((options.url === undefined) === (options.config === undefined)) {
    throw new TypeError('MysqlDriver needs exactly one of { url } or { config }')
  }
  const maxSessions = options.maxSessions ?? 64
  if (!Number.isInteger(maxSessions) || maxSessions < 2) {
    throw new RangeError(`maxSessions must be an integer >= 2, got ${maxSessions}`)
  }
  const maxTrySessions = options.maxTrySessions ?? Math.min(8, maxSessions)
  if (!Number.isInteger(maxTrySessions) || maxTrySessions < 1 || maxTrySessions > maxSessions) {
    throw new RangeError(
      `maxTrySessions must be an integer from 1 to maxSessions (${maxSessions}), got ${maxTrySessions}`,
    )
  }
  const idleSessionMs = options.idleSessionMs ?? 10_000
  if (!(idleSessionMs > 0)) throw new RangeError(`idleSessionMs must be > 0, got ${idleSessionMs}`)
  const connectTimeout = options.connectTimeoutMs ?? 10_000
  if (!(connectTimeout > 0)) {
    throw new RangeError(`connectTimeoutMs must be > 0, got ${connectTimeout}`)
  }
  const base = options.url !== undefined ? parseMysqlUrl(options.url) : (options.config ?? {})
  const connection: ConnectionOptions = {
    connectTimeout,
    ...base,
    // a wait and its fence bump, a heartbeat's checks: one round trip each; values of
    // text queries are escaped by mysql2 client-side
    multipleStatements: true,
    // LAST_INSERT_ID() is BIGINT UNSIGNED: exact, as a string
    supportBigNumbers: true,
    bigNumberStrings: true,
    // LEFT() in the lock name counts utf8mb4 characters, as an operator's client does
    charset: 'utf8mb4',
    // the driver keeps its few prepared statements per session: mysql2's statement cache
    // must never evict (and close) one of them
    maxPreparedStatements: Math.max(16, base.maxPreparedStatements ?? 16_000),
    // client-side TCP keepalive: notice a vanished server host on an idle session
    enableKeepAlive: true,
    keepAliveInitialDelay: 10_000,
  }
  return Object.freeze({
    connection: Object.freeze(connection),
    fenceTable: options.fenceTable ?? 'baton_fence',
    fenceDatabase: options.fenceDatabase,
    maxSessions,
    maxTrySessions,
    idleSessionMs,
  })
}

/**
 * `mysql://user:password@host:port/database` or `mariadb://...` as mysql2 options.
 * Credentials are percent-decoded; a malformed URL is a TypeError that never shows the
 * password. No query parameters are accepted (use `config` for TLS and the like).
 */
export function parseMysqlUrl(url: string): ConnectionOptions {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new TypeError(`MysqlDriver: not a valid URL: ${redact(url)}`)
  }
  if (parsed.protocol !== 'mysql:' && parsed.protocol !== 'mariadb:') {
    throw new TypeError(
      `MysqlDriver url must start with mysql:// or mariadb://, got ${redact(url)}`,
    )
  }
  if (parsed.hostname === '') throw new TypeError(`MysqlDriver url has no host: ${redact(url)}`)
  const params = [...parsed.searchParams.keys()]
  if (params.length > 0) {
    throw new TypeError(
      `MysqlDriver url takes no query parameters (got ${params.join(', ')}); pass { config } for more options`,
    )
  }
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, ''))
  if (database.includes('/')) {
    throw new TypeError(`MysqlDriver url path must be one database name: ${redact(url)}`)
  }
  return {
    host: parsed.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: parsed.port === '' ? 3306 : Number(parsed.port),
    user: decodeURIComponent(parsed.username) || 'root',
    password: decodeURIComponent(parsed.password),
    ...(database === '' ? {} : { database }),
  }
}
