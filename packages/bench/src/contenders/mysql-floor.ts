import mysql, { type Connection } from 'mysql2/promise'
import type { BackendTarget, ContenderSpec, LockClient, Release } from '../lock-client.js'

/** GET_LOCK's "no deadline" (MariaDB returns NULL at once for a negative timeout). */
const FOREVER_S = 31_536_000

async function connect(url: string): Promise<Connection> {
  return mysql.createConnection({ uri: url.replace(/^mariadb:/, 'mysql:'), charset: 'utf8mb4' })
}

/**
 * The hand-written MySQL/MariaDB floor for uncontended cycles: one dedicated connection,
 * `GET_LOCK(name, 0)` then `RELEASE_LOCK(name)`: two round trips, no fence. Attempt-only.
 */
export const mysqlFloor: ContenderSpec = {
  name: 'floor: GET_LOCK(name, 0) + RELEASE_LOCK',
  role: 'floor',
  waits: false,
  async open(target: BackendTarget): Promise<LockClient> {
    const connection = await connect(target.url)
    return {
      async acquire(key: string): Promise<Release | null> {
        const [rows] = await connection.query('SELECT GET_LOCK(?, 0) AS ok', [key])
        if (Number((rows as Array<{ ok: unknown }>)[0]?.ok) !== 1) return null
        return async () => {
          await connection.query('SELECT RELEASE_LOCK(?)', [key])
        }
      },
      async close() {
        await connection.end()
      },
    }
  },
}

/**
 * MySQL's server-side wait, the reference floor of the handoff scenario: each worker
 * blocks in `GET_LOCK(name, seconds)` on its own connection and the server wakes a
 * waiter when the holder releases; no polling anywhere.
 */
export const mysqlServerWait: ContenderSpec = {
  name: 'floor: GET_LOCK server-side wait',
  role: 'floor',
  waits: true,
  async open(target: BackendTarget): Promise<LockClient> {
    const connection = await connect(target.url)
    return {
      async acquire(key: string, waitMs: number): Promise<Release | null> {
        const seconds = Number.isFinite(waitMs) ? Math.max(0.001, waitMs / 1000) : FOREVER_S
        const [rows] = await connection.query('SELECT GET_LOCK(?, ?) AS ok', [key, seconds])
        if (Number((rows as Array<{ ok: unknown }>)[0]?.ok) !== 1) return null
        return async () => {
          await connection.query('SELECT RELEASE_LOCK(?)', [key])
        }
      },
      async close() {
        await connection.end()
      },
    }
  },
}
