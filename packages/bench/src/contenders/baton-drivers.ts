import type { LockDriver } from '@baton-lock/core'
import type { BackendTarget } from '../lock-client.js'

/*
 * Baton's drivers, imported on first use so that the benchmark runs (and reports the
 * failure in its rows) while a driver package is missing or broken.
 */

export async function redisDriver(target: BackendTarget): Promise<LockDriver> {
  const { RedisDriver } = await import('@baton-lock/redis')
  return new RedisDriver({ url: target.url })
}

export async function postgresDriver(target: BackendTarget): Promise<LockDriver> {
  const { PostgresDriver } = await import('@baton-lock/postgres')
  return new PostgresDriver({ url: target.url })
}

export async function sqliteDriver(target: BackendTarget): Promise<LockDriver> {
  const { SqliteDriver } = await import('@baton-lock/sqlite')
  return new SqliteDriver({ path: target.url })
}

export async function memoryDriver(): Promise<LockDriver> {
  const { MemoryDriver } = await import('@baton-lock/core')
  return new MemoryDriver()
}
