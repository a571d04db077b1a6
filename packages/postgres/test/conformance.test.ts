import { runConformance } from '@baton-lock/core/conformance'
import { startPostgres } from '@baton-lock/test-matrix'
import pg from 'pg'
import { afterAll } from 'vitest'
import { ADVISORY_KEY_SQL, PostgresDriver, SEMAPHORE_KEY_SQL } from '../src/index.js'

// The kit creates its probe driver while vitest collects, so the server starts here.
const server = await startPostgres()
const admin = new pg.Client({ connectionString: server.url })
admin.on('error', () => {})
await admin.connect()
afterAll(async () => {
  await admin.end()
  await server.stop()
})

runConformance({
  name: 'postgres',
  createDriver: () => new PostgresDriver({ url: server.url }),
  faults: {
    // As an operator or a failover would: end the backend whose session holds the key.
    // The server cannot tell which of several shared holds or permits is whose, so every
    // backend holding the key in that mode (or a slot of the semaphore) ends, as in a failover.
    async dropLock(lock) {
      const { rows } =
        lock.mode === 'semaphore'
          ? await admin.query<{ pid: number }>(
              `SELECT DISTINCT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 2
                 AND objid::bigint < 2147483648 AND classid::bigint = (${SEMAPHORE_KEY_SQL}::bigint & 4294967295)`,
              [lock.key],
            )
          : await admin.query<{ pid: number }>(
              `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1
                 AND mode = $2 AND ((classid::bigint << 32) | objid::bigint) = ${ADVISORY_KEY_SQL}`,
              [lock.key, lock.mode === 'shared' ? 'ShareLock' : 'ExclusiveLock'],
            )
      if (rows.length === 0) throw new Error(`no backend holds ${lock.key}`)
      for (const { pid } of rows) await admin.query('SELECT pg_terminate_backend($1)', [pid])
    },
  },
})
