import { runConformance } from '@baton-lock/core/conformance'
import { startZookeeper } from '@baton-lock/test-matrix'
import { afterAll } from 'vitest'
import { lockPath, semaphorePath, ZookeeperDriver } from '../src/index.js'
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
    // As an operator (or `baton release --force`) would: delete the lock's node, found by
    // its fence (the czxid) among the lock's queue and, for a permit, the semaphore's leases.
    async dropLock(lock) {
      const parents = [lockPath(lock.key, '/baton'), `${semaphorePath(lock.key, '/baton')}/leases`]
      for (const parent of parents) {
        for (const name of await admin.getChildren(parent).catch(() => [] as string[])) {
          const stat = await admin.exists(`${parent}/${name}`)
          if (stat?.czxid.readBigUInt64BE(0) === lock.fence)
            return admin.remove(`${parent}/${name}`)
        }
      }
      throw new Error(`no node with czxid ${lock.fence} for ${lock.key}`)
    },
  },
})
