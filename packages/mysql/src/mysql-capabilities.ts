import { defineCapabilities } from '@baton-lock/core/driver'

/** What `GET_LOCK` on MySQL 5.7+ / MariaDB 10.0.2+ lets the driver promise (see README "Capabilities"). */
export const MYSQL_CAPABILITIES = defineCapabilities({
  expiry: 'session',
  // wait_timeout is whole seconds
  ttlResolutionMs: 1_000,
  nativeWait: true,
  // waiters queue FIFO in the server's metadata-lock subsystem and a release grants the
  // first one before any new try can take the name (tested across processes on MariaDB
  // 10.11); the driver sends each wait without a try in front when a session is idle
  fair: true,
  // core sends no try before a waiting acquire: the driver tries (or, for a name contended a
  // moment ago, waits at once: the wait tries first on the server) and reports contention
  queuedWait: true,
  // an InnoDB row per key, committed with the grant
  fencing: 'durable',
  lossSignal: true,
  // any key maps onto a 64-character name (mysql-key.ts)
  maxKeyBytes: 65_536,
  inspect: true,
  // GET_LOCK has no shared mode (README "Shared locks")
  sharedLocks: false,
  // `limit` GET_LOCK names per semaphore (semaphore-slots.ts)
  semaphores: true,
})

/** What the driver read from the server at `ready()`. */
export interface MysqlServerInfo {
  /** `mysql` or `mariadb`. */
  readonly flavor: 'mysql' | 'mariadb'
  /** `VERSION()`, e.g. `10.11.6-MariaDB-0+deb12u1` or `8.0.36`. */
  readonly version: string
  /** Major, minor, patch of `version`. */
  readonly release: readonly [number, number, number]
  /** `information_schema.METADATA_LOCK_INFO` is there (MariaDB plugin `metadata_lock_info`): `list` reads it. */
  readonly metadataLockInfo: boolean
  /** `performance_schema.metadata_locks` lists user locks (MySQL 8 with performance_schema on): `list` reads it. */
  readonly performanceSchemaLocks: boolean
}

/** The facts the server answered at connect (see `serverFactsSql`), before checking them. */
export interface ServerFacts {
  readonly version: string
  readonly wsrepOn: string | undefined
  readonly metadataLockInfo: boolean
  readonly performanceSchemaLocks: boolean
}

/**
 * Checks the server can carry Baton's locks and says why not: MySQL before 5.7 and
 * MariaDB before 10.0.2 hold one `GET_LOCK` per session (a second one silently releases
 * the first); Galera does not replicate `GET_LOCK`, so two nodes would grant the same name.
 */
export function serverInfo(facts: ServerFacts): MysqlServerInfo {
  const flavor = /mariadb/i.test(facts.version) ? 'mariadb' : 'mysql'
  const [major = 0, minor = 0, patch = 0] = facts.version.split(/[^0-9]+/).map(Number)
  const release = [major, minor, patch] as const
  const atLeast = (m: number, n: number, p: number) =>
    major !== m ? major > m : minor !== n ? minor > n : patch >= p
  if (flavor === 'mariadb' ? !atLeast(10, 0, 2) : !atLeast(5, 7, 0)) {
    throw new Error(
      `mysql: server ${facts.version} is too old: GET_LOCK holds one lock per session before ` +
        'MySQL 5.7 and MariaDB 10.0.2; Baton needs MySQL 5.7+ or MariaDB 10.0.2+',
    )
  }
  if (facts.wsrepOn !== undefined && /^(on|1)$/i.test(facts.wsrepOn)) {
    throw new Error(
      'mysql: the server is a Galera cluster node (wsrep_on=ON); GET_LOCK is not replicated ' +
        'between Galera nodes, so two nodes could grant the same lock: point Baton at a ' +
        'single primary server (not a Galera cluster)',
    )
  }
  return Object.freeze({
    flavor,
    version: facts.version,
    release,
    metadataLockInfo: facts.metadataLockInfo,
    performanceSchemaLocks: facts.performanceSchemaLocks,
  })
}
