import { runConformance } from '@baton-lock/core/conformance'
import { startEtcd } from '@baton-lock/test-matrix'
import { Etcd3, SortOrder, SortTarget } from 'etcd3'
import { afterAll } from 'vitest'
import {
  EtcdDriver,
  etcdLockName,
  lockPrefix,
  permitKey,
  readerKey,
  semaphoreName,
} from '../src/index.js'

// The kit creates its probe driver while vitest collects, so the server starts here.
const server = await startEtcd()
const hosts = server.url.replace(/^etcd:\/\//, '').split(',')
const admin = new Etcd3({ hosts })
afterAll(async () => {
  admin.close()
  await server.stop()
})

runConformance({
  name: 'etcd',
  createDriver: () => new EtcdDriver({ url: server.url }),
  faults: {
    // As an operator would (`etcdctl lease revoke`): revoke the holder's lease.
    async dropLock(lock) {
      const name = etcdLockName(lock.key)
      // A shared or semaphore grant has a key of its own owner id.
      for (const own of [readerKey(name, lock.owner), permitKey(semaphoreName(name), lock.owner)]) {
        const kv = (await admin.kv.range({ key: Buffer.from(own) })).kvs[0]
        if (kv !== undefined) {
          await admin.leaseClient.leaseRevoke({ ID: kv.lease })
          return
        }
      }
      const prefix = lockPrefix(name)
      const res = await admin.kv.range({
        key: Buffer.from(prefix),
        range_end: Buffer.from(`${prefix.slice(0, -1)}0`),
        sort_target: SortTarget.Create,
        sort_order: SortOrder.Ascend,
        limit: 1,
      })
      const holder = res.kvs[0]
      if (holder === undefined || holder.create_revision !== lock.fence.toString()) {
        throw new Error(`no etcd key holds ${lock.key} with fence ${lock.fence}`)
      }
      await admin.leaseClient.leaseRevoke({ ID: holder.lease })
    },
  },
})
