import type { ClientConfig } from 'pg'

/** How to build a `PostgresDriver`. Give exactly one of `url` and `config`. */
export interface PostgresDriverOptions {
  /** `postgres://user:password@host:port/database?...`, as `pg` understands it. */
  readonly url?: string
  /** A `pg` client configuration; the driver opens its own clients from it and never borrows the application's. */
  readonly config?: ClientConfig
  /** Schema of the fence sequence. Default `public`. */
  readonly fenceSchema?: string
  /** Name of the fence sequence, created on first use. Default `baton_fence`. */
  readonly fenceSequence?: string
  /**
   * Most lock sessions (connections) open at once. Default: half of the server's connection
   * slots that are free at connect, at most 64. A connection the server refuses (too many
   * clients) counts as "no free session" either way: waiters then poll on the sessions open.
   */
  readonly maxSessions?: number
  /**
   * Most locks this driver holds at once; beyond it an acquire fails with a LockBackendError
   * naming the setting. Default: half of the server's shared lock table
   * (`max_locks_per_transaction x (max_connections + max_prepared_transactions)`), which every
   * session of the server shares: a full table makes even new connections fail.
   */
  readonly maxHeldLocks?: number
  /** A session that holds nothing is closed after this long idle, in ms (one stays open). Default 10 000. */
  readonly idleSessionMs?: number
  /** Connect timeout per session, in ms. Default 10 000. */
  readonly connectTimeoutMs?: number
}

/** Options after defaults, frozen. */
export interface ResolvedPostgresOptions {
  readonly client: ClientConfig
  readonly fenceSchema: string
  readonly fenceSequence: string
  readonly maxSessions: number
  /** False when `maxSessions` is the default, which the server's free slots may lower. */
  readonly maxSessionsGiven: boolean
  /** The `maxHeldLocks` option; undefined derives it from the server's lock table. */
  readonly maxHeldLocks: number | undefined
  readonly idleSessionMs: number
}

/** Checks the options, applies defaults and builds the `pg` client configuration of every session. */
export function resolvePostgresOptions(options: PostgresDriverOptions): ResolvedPostgresOptions {
  if ((options.url === undefined) === (options.config === undefined)) {
    throw new TypeError('PostgresDriver needs exactly one of { url } or { config }')
  }
  if (options.url !== undefined && !/^postgres(ql)?:\/\//i.test(options.url)) {
    throw new TypeError('PostgresDriver url must start with postgres:// or postgresql://')
  }
  const maxSessions = options.maxSessions ?? 64
  if (!Number.isInteger(maxSessions) || maxSessions < 2) {
    throw new RangeError(`maxSessions must be an integer >= 2, got ${maxSessions}`)
  }
  const maxHeldLocks = options.maxHeldLocks
  if (maxHeldLocks !== undefined && (!Number.isInteger(maxHeldLocks) || maxHeldLocks < 1)) {
    throw new RangeError(`maxHeldLocks must be an integer >= 1, got ${maxHeldLocks}`)
  }
  const idleSessionMs = options.idleSessionMs ?? 10_000
  if (!(idleSessionMs > 0)) throw new RangeError(`idleSessionMs must be > 0, got ${idleSessionMs}`)
  const base: ClientConfig =
    options.url !== undefined ? { connectionString: options.url } : (options.config ?? {})
  const client: ClientConfig = {
    application_name: 'baton',
    connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
    keepAliveInitialDelayMillis: 10_000,
    ...base,
    // client-side TCP keepalive: notice a vanished server host on an idle session
    keepAlive: true,
  }
  return Object.freeze({
    client: Object.freeze(client),
    fenceSchema: options.fenceSchema ?? 'public',
    fenceSequence: options.fenceSequence ?? 'baton_fence',
    maxSessions,
    maxSessionsGiven: options.maxSessions !== undefined,
    maxHeldLocks,
    idleSessionMs,
  })
}
