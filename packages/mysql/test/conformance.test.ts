import { runConformance } from '@baton-lock/core/conformance'
import { startMariadb } from '@baton-lock/test-matrix'
import { afterAll } from 'vitest'
import { lockName, MysqlDriver } from '../src/index.js'
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
    async dropLock(lock) {
      const [row] = await sql(admin, 'SELECT IS_USED_LOCK(?) AS id', [lockName(lock.key)])
      if (row?.id == null) throw new Error(`no connection holds ${lock.key}`)
      await sql(admin, `KILL ${Number(row.id)}`)
    },
  },
})
