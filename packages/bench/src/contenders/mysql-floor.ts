import mysql, { type Connection } from 'mysql2/promise'
import type { BackendTarget, ContenderSpec, LockClient, Release } from '../lock-client.js'

/** GET_LOCK's "no deadline" (MariaDB returns NULL at once for a negative timeout). */
const FOREVER_S = 31_536_000

async function connect(url: string): Promise<Connection> {
  return mysql.createConnection({ uri: url.replace(/^mariadb:/, 'mysql:'), charset: 'utf8mb4' })
}

/** The floor's fence table, created on first use (one row per lock name). */
const FENCE_TABLE = 'baton_bench_floor_fence'
const CREATE_FENCE_TABLE =
  `CREATE TABLE IF NOT EXISTS ${FENCE_TABLE} ` +
  '(name VARBINARY(255) NOT NULL PRIMARY KEY, fence BIGINT UNSIGNED NOT NULL) ENGINE=InnoDB'
// GET_LOCK and the fence in one statement: the row is written only when the name was
// granted, and LAST_INSERT_ID(expr) puts the new fence into the OK packet.
const FENCED_TRY =
  `INSERT INTO ${FENCE_TABLE} (name, fence) SELECT ?, LAST_INSERT_ID(1) FROM DUAL ` +
  'WHERE GET_LOCK(?, 0) = 1 ON DUPLICATE KEY UPDATE fence = LAST_INSERT_ID(fence + 1)'

/**
 * The hand-written MySQL/MariaDB floor, paying what the design requires of a grant (as the
 * Redis floor does): one dedicated connection, one statement that takes `GET_LOCK(name, 0)`
 * and, when granted, bumps the name's fence row in an InnoDB table (the fence must outlive
 * the session and a server restart, and GET_LOCK has none), then `RELEASE_LOCK(name)`: two
 * round trips, a durable fence per grant. Attempt-only.
 */
export const mysqlFloor: ContenderSpec = {
  name: 'floor: GET_LOCK(name, 0) + fence row (one statement) + RELEASE_LOCK',
  role: 'floor',
  waits: false,
  async open(target: BackendTarget): Promise<LockClient> {
    const connection = await connect(target.url)
    await connection.query(CREATE_FENCE_TABLE)
    return {
      async acquire(key: string): Promise<Release | null> {
        const [header] = await connection.query(FENCED_TRY, [key, key])
        const ok = header as { affectedRows: number; insertId: number }
        if (!(ok.affectedRows > 0) || !(ok.insertId > 0)) return null
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
 * The bare protocol without a fence (the floor before fences were required of it), shown
 * beside the floor as a reference: `GET_LOCK(name, 0)` then `RELEASE_LOCK(name)`.
 * Attempt-only.
 */
export const mysqlUnfenced: ContenderSpec = {
  name: 'reference: GET_LOCK(name, 0) + RELEASE_LOCK, no fence',
  role: 'reference',
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
