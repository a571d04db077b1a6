import { runConformance } from '@baton-lock/core/conformance'
import { startMariadb } from '@baton-lock/test-matrix'
import { afterAll } from 'vitest'
import { lockName, MysqlDriver, semaphoreNames } from '../src/index.js'
import { rawConnection, sql } from './driver-helpers.js'

// The kit creates its probe driver while vitest collects, so the server starts here.
const server = await startMariadb()
const admin = await rawConnection(server.url)
afterAll(async () => {
  admin.destroy()
  await server.stop()
})

runConformance({
  name: 'mysql',
  createDriver: () => new MysqlDriver({ url: server.url }),
  faults: {
    // As an operator or a failover would: KILL the connection whose session holds the name.
    // A semaphore permit (no lock holds the key): the connection its grant recorded in the
    // semaphore's fence row, when that row's fence is the permit's.
    async dropLock(lock) {
      const [row] = await sql(admin, 'SELECT IS_USED_LOCK(?) AS id', [lockName(lock.key)])
      let id = row?.id
      if (id == null) {
        const [permit] = await sql(
          admin,
          'SELECT holder AS id FROM baton_fence WHERE name = ? AND fence = ?',
          [semaphoreNames(lock.key).base, String(lock.fence)],
        )
        id = permit?.id
      }
      if (id == null) throw new Error(`no connection holds ${lock.key}`)
      await sql(admin, `KILL ${Number(id)}`)
    },
  },
})
