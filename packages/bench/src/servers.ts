import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import pg from 'pg'
import type { RunningBackend } from './backend-spec.js'
import { sqliteVersion } from './contenders/sqlite-database.js'

/**
 * Stops a test-matrix server, waiting at most `limitMs` with a referenced timer: the
 * handle's own wait does not keep the event loop alive, and a server left running is
 * still killed by test-matrix's exit handler.
 */
async function stopWithin(server: { stop(): Promise<void> }, limitMs = 10_000): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  await Promise.race([
    server.stop(),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, limitMs)
    }),
  ]).finally(() => clearTimeout(timer))
}

function provisioning(external: boolean, what: string): string {
  return external
    ? `external server from BATON_${what.toUpperCase()}_URL`
    : `${what} started by @baton-lock/test-matrix on a free loopback port`
}

/** A private Redis server from @baton-lock/test-matrix (never the system service on 6379). */
export async function startRedisBackend(): Promise<RunningBackend> {
  const { startRedis } = await import('@baton-lock/test-matrix')
  const server = await startRedis({ name: 'bench-redis' })
  try {
    const redis = new Redis(server.url, { lazyConnect: true, maxRetriesPerRequest: 1 })
    await redis.connect()
    const info = await redis.info('server')
    await redis.quit()
    const version = /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown'
    return {
      target: { url: server.url },
      version: `Redis ${version}`,
      provisioning: provisioning(server.external, 'redis'),
      stop: () => stopWithin(server),
    }
  } catch (err) {
    await stopWithin(server)
    throw err
  }
}

/** A private PostgreSQL server from @baton-lock/test-matrix (never the system service on 5432). */
export async function startPostgresBackend(): Promise<RunningBackend> {
  const { startPostgres } = await import('@baton-lock/test-matrix')
  // The scale scenario holds 10,000 advisory locks: the default lock table (64 per
  // connection slot) lets one driver hold about 9,600 (half of it), so give it room, as a
  // deployment that holds that many locks must.
  const server = await startPostgres({ settings: { max_locks_per_transaction: 256 } })
  try {
    const client = new pg.Client({ connectionString: server.url })
    await client.connect()
    const { rows } = await client.query<{ server_version: string }>('SHOW server_version')
    const max = await client.query<{ max_connections: string }>('SHOW max_connections')
    await client.end()
    return {
      target: { url: server.url },
      version: `PostgreSQL ${rows[0]?.server_version ?? 'unknown'} (max_connections ${max.rows[0]?.max_connections ?? '?'})`,
      provisioning: provisioning(server.external, 'postgres'),
      stop: () => stopWithin(server),
    }
  } catch (err) {
    await stopWithin(server)
    throw err
  }
}

/** A fresh database file in a temp directory, removed afterwards. */
export async function startSqliteBackend(): Promise<RunningBackend> {
  const dir = await mkdtemp(join(tmpdir(), 'baton-bench-sqlite-'))
  // The floor always runs on better-sqlite3; the driver on the binding it picks here.
  const { SqliteDriver } = await import('@baton-lock/sqlite')
  const probe = new SqliteDriver({ path: ':memory:' })
  await probe.close()
  return {
    target: { url: join(dir, 'locks.db') },
    version: `SQLite ${sqliteVersion()} (floor on better-sqlite3, driver on ${probe.binding}; WAL, synchronous NORMAL)`,
    provisioning: `database file in ${tmpdir()}`,
    stop: () => rm(dir, { recursive: true, force: true }),
  }
}

/** Nothing to start: the MemoryDriver lives in the process. */
export async function startMemoryBackend(): Promise<RunningBackend> {
  return {
    target: { url: 'memory:' },
    version: 'in-process',
    provisioning: 'none (in-process)',
    stop: async () => {},
  }
}
