import type { LockDriver } from '@baton-lock/core'
import mysql from 'mysql2/promise'
import type { RunningBackend } from './backend-spec.js'
import type { BackendTarget } from './lock-client.js'

/** A private MariaDB server from @baton-lock/test-matrix (or BATON_MYSQL_URL), never the system service. */
export async function startMysqlBackend(): Promise<RunningBackend> {
  const { startMariadb } = await import('@baton-lock/test-matrix')
  const server = await startMariadb({ name: 'bench-mariadb' })
  try {
    const connection = await mysql.createConnection({ uri: server.url })
    const [rows] = await connection.query(
      'SELECT VERSION() AS version, @@max_connections AS max, @@innodb_flush_log_at_trx_commit AS flush',
    )
    await connection.end()
    const row = (rows as Array<Record<string, unknown>>)[0] ?? {}
    return {
      target: { url: server.url },
      version: `MySQL protocol ${String(row.version)} (max_connections ${String(row.max)}, innodb_flush_log_at_trx_commit ${String(row.flush)})`,
      provisioning: server.external
        ? 'external server from BATON_MYSQL_URL'
        : 'mariadb started by @baton-lock/test-matrix on a free loopback port',
      stop: () => server.stop(),
    }
  } catch (err) {
    await server.stop()
    throw err
  }
}

/** Baton's MySQL driver, imported on first use (like the other drivers in baton-drivers.ts). */
export async function mysqlDriver(target: BackendTarget): Promise<LockDriver> {
  const { MysqlDriver } = await import('@baton-lock/mysql')
  return new MysqlDriver({ url: target.url })
}
