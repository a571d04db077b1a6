import type { LockDriver } from '@baton-lock/core'
import type { RunningBackend } from '../backend-spec.js'
import type { BackendTarget, ContenderSpec, LockClient, Release } from '../lock-client.js'

// etcd's contenders, all in this file: the private server, Baton's driver, the
// hand-written floors (2 writes with a reused lease; the Mutex recipe on one anchored
// watch stream) and etcd3's own Lock as the peer.

const TTL_SECONDS = 30

async function etcd3Client(target: BackendTarget) {
  const { Etcd3 } = await import('etcd3')
  return new Etcd3({ hosts: target.url.replace(/^etcd:\/\//, '').split(',') })
}

/** A private etcd from @baton-lock/test-matrix (never a system service on 2379). */
export async function startEtcdBackend(): Promise<RunningBackend> {
  const { startEtcd } = await import('@baton-lock/test-matrix')
  const server = await startEtcd()
  try {
    const client = await etcd3Client({ url: server.url })
    const status = await client.maintenance.status()
    client.close()
    return {
      target: { url: server.url },
      version: `etcd ${status.version}`,
      provisioning: server.external
        ? 'external server from BATON_ETCD_URL'
        : 'etcd started by @baton-lock/test-matrix on a free loopback port',
      stop: () => server.stop(),
    }
  } catch (err) {
    await server.stop()
    throw err
  }
}

export async function etcdDriver(target: BackendTarget): Promise<LockDriver> {
  const { EtcdDriver } = await import('@baton-lock/etcd')
  return new EtcdDriver({ url: target.url })
}

/** One granted lease reused for every key, as a careful hand-written client would. */
async function leasedClient(target: BackendTarget) {
  const client = await etcd3Client(target)
  const grant = await client.leaseClient.leaseGrant({ TTL: TTL_SECONDS, ID: 0 })
  return { client, leaseId: grant.ID }
}

/**
 * The floor of uncontended cycles: put `key/<lease>` with the reused lease if absent and
 * read the first-created key in one txn, then delete: 2 writes per cycle. Attempt-only.
 */
export const etcdFloor: ContenderSpec = {
  name: 'floor: txn put-if-absent + delete, reused lease',
  role: 'floor',
  waits: false,
  async open(target: BackendTarget): Promise<LockClient> {
    const { client, leaseId } = await leasedClient(target)
    const { CompareResult, CompareTarget, SortOrder, SortTarget } = await import('etcd3')
    const hex = BigInt(leaseId).toString(16)
    return {
      async acquire(name: string): Promise<Release | null> {
        const prefix = Buffer.from(`${name}/`)
        const end = Buffer.from(`${name}0`)
        const key = Buffer.from(`${name}/${hex}`)
        const res = await client.kv.txn({
          compare: [
            { key, target: CompareTarget.Create, result: CompareResult.Equal, create_revision: 0 },
          ],
          success: [
            { request_put: { key, value: Buffer.alloc(0), lease: leaseId } },
            {
              request_range: {
                key: prefix,
                range_end: end,
                sort_target: SortTarget.Create,
                sort_order: SortOrder.Ascend,
                limit: 1,
              },
            },
          ],
        })
        const holder = res.responses[1]?.response_range.kvs[0]
        if (!res.succeeded) return null
        if (holder?.create_revision !== res.header.revision) {
          await client.kv.deleteRange({ key })
          return null
        }
        return async () => {
          await client.kv.deleteRange({ key })
        }
      },
      async close() {
        await client.leaseClient.leaseRevoke({ ID: leaseId }).catch(() => undefined)
        client.close()
      },
    }
  },
}

/**
 * The best raw watch recipe, the handoff floor: Go's Mutex (put, then wait for the
 * deletion of the next-lower key and re-read) on one anchored watch stream, watchers at
 * the current revision (no 100 ms catch-up batch), a reused lease.
 */
export const etcdWatchRecipe: ContenderSpec = {
  name: 'floor: Mutex recipe, one watch stream',
  role: 'floor',
  waits: true,
  async open(target: BackendTarget): Promise<LockClient> {
    const { client, leaseId } = await leasedClient(target)
    const { SortOrder, SortTarget } = await import('etcd3')
    const anchor = await client.watch().key('\u0000bench-anchor').create()
    const hex = BigInt(leaseId).toString(16)
    return {
      async acquire(name: string, waitMs: number): Promise<Release | null> {
        const key = `${name}/${hex}`
        const put = await client.put(key).value('').lease(leaseId).exec()
        const mine = BigInt(put.header.revision)
        const deadline = performance.now() + waitMs
        for (;;) {
          const below = await client.kv.range({
            key: Buffer.from(`${name}/`),
            range_end: Buffer.from(`${name}0`),
            sort_target: SortTarget.Create,
            sort_order: SortOrder.Descend,
            max_create_revision: String(mine - 1n),
            limit: 1,
          })
          const before = below.kvs[0]
          if (before === undefined) return async () => void (await client.delete().key(key))
          const left = deadline - performance.now()
          if (left <= 0) {
            await client.delete().key(key)
            return null
          }
          const watcher = client.watch().key(before.key).only('delete').watcher()
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, left)
            const done = () => {
              clearTimeout(timer)
              resolve()
            }
            watcher.on('delete', done)
            watcher.once('connected', (res: { header: { revision: string } }) => {
              if (res.header.revision === below.header.revision) return
              // The key may be gone and put again by the same lease behind us (a new
              // create revision): only the create revision read tells it is still there.
              void client.kv.range({ key: before.key, keys_only: true }).then((r) => {
                if (r.kvs[0]?.create_revision !== before.create_revision) done()
              })
            })
          })
          void watcher.cancel()
        }
      },
      async close() {
        await anchor.cancel()
        await client.leaseClient.leaseRevoke({ ID: leaseId }).catch(() => undefined)
        client.close()
      },
    }
  },
}

/** etcd3's own `Lock`: try-only (no queue), three writes per cycle (grant, put, revoke). */
export const etcd3LockPeer: ContenderSpec = {
  name: 'etcd3 Lock',
  role: 'peer',
  waits: false,
  async open(target: BackendTarget): Promise<LockClient> {
    const client = await etcd3Client(target)
    const { EtcdLockFailedError } = await import('etcd3')
    return {
      async acquire(name: string): Promise<Release | null> {
        const lock = client.lock(name).ttl(TTL_SECONDS)
        try {
          await lock.acquire()
        } catch (err) {
          if (err instanceof EtcdLockFailedError) return null
          throw err
        }
        return async () => {
          await lock.release()
        }
      },
      async close() {
        client.close()
      },
    }
  },
}
