import { runConformance } from '@baton-lock/core/conformance'
import { startZookeeper } from '@baton-lock/test-matrix'
import { afterAll } from 'vitest'
import { lockPath, sortedLockNodes, ZookeeperDriver } from '../src/index.js'
import { type AdminClient, adminClient } from './zk-admin.js'

// The kit creates its probe driver while vitest collects, so the server starts here.
// minSessionTimeout 500 ms (test-matrix default): the kit's short TTLs are real sessions.
const server = await startZookeeper()
const admin: AdminClient = await adminClient(server.url)
afterAll(async () => {
  admin.close()
  await server.stop()
})

runConformance({
  name: 'zookeeper',
  createDriver: () => new ZookeeperDriver({ url: server.url, minSessionTimeoutMs: 500 }),
  faults: {
    // As an operator (or `baton release --force`) would: delete the holder's lock node.
    async dropLock(lock) {
      const path = lockPath(lock.key, '/baton')
      const [holder] = sortedLockNodes(await admin.getChildren(path))
      if (holder === undefined) throw new Error(`no lock node under ${path}`)
      await admin.remove(`${path}/${holder}`)
    },
  },
})
