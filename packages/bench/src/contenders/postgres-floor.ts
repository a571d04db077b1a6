import pg from 'pg'
import type { BackendTarget, ContenderSpec, LockClient, Release } from '../lock-client.js'
import { advisoryKey } from './pg-key.js'

async function connect(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  return client
}

// Named prepared statements: after the first use each call is one Bind/Execute/Sync round trip.
const TRY_LOCK = { name: 'baton_floor_try', text: 'SELECT pg_try_advisory_lock($1::int8) AS ok' }
const LOCK = { name: 'baton_floor_lock', text: 'SELECT pg_advisory_lock($1::int8)' }
const UNLOCK = { name: 'baton_floor_unlock', text: 'SELECT pg_advisory_unlock($1::int8)' }

/**
 * The hand-written PostgreSQL floor for uncontended cycles: one dedicated connection,
 * `pg_try_advisory_lock` then `pg_advisory_unlock`: two round trips. Attempt-only.
 */
export const postgresFloor: ContenderSpec = {
  name: 'floor: pg_try_advisory_lock + unlock',
  role: 'floor',
  waits: false,
  async open(target: BackendTarget): Promise<LockClient> {
    const client = await connect(target.url)
    return {
      async acquire(key: string): Promise<Release | null> {
        const id = advisoryKey(key)
        const { rows } = await client.query<{ ok: boolean }>({ ...TRY_LOCK, values: [id] })
        if (rows[0]?.ok !== true) return null
        return async () => {
          await client.query({ ...UNLOCK, values: [id] })
        }
      },
      async close() {
        await client.end()
      },
    }
  },
}

/**
 * PostgreSQL's server-side wait, the reference floor of the handoff scenario: each worker
 * blocks in `pg_advisory_lock` on its own connection and the server wakes the next waiter
 * when the holder unlocks; no polling anywhere. `lock_timeout` bounds the wait.
 */
export const postgresServerWait: ContenderSpec = {
  name: 'floor: pg_advisory_lock server-side wait',
  role: 'floor',
  waits: true,
  async open(target: BackendTarget): Promise<LockClient> {
    const client = await connect(target.url)
    let timeoutMs = -1
    return {
      async acquire(key: string, waitMs: number): Promise<Release | null> {
        const id = advisoryKey(key)
        const boundMs = Math.max(1, Math.ceil(waitMs))
        if (boundMs !== timeoutMs) {
          await client.query(`SET lock_timeout = ${boundMs}`)
          timeoutMs = boundMs
        }
        try {
          await client.query({ ...LOCK, values: [id] })
        } catch (err) {
          if ((err as { code?: string }).code === '55P03') return null // lock_not_available
          throw err
        }
        return async () => {
          await client.query({ ...UNLOCK, values: [id] })
        }
      },
      async close() {
        await client.end()
      },
    }
  },
}
