import { randomUUID } from 'node:crypto'
import { createRequire } from 'node:module'
import type { LockDriver } from '@baton-lock/core'
import type { RunningBackend } from '../backend-spec.js'
import type { BackendTarget, ContenderSpec, LockClient, Release } from '../lock-client.js'

// The hand-written ZooKeeper floors with the raw node-zookeeper-client, Baton's ZooKeeper
// driver, and the bench's ZooKeeper server. Lock paths as Baton maps keys (lockPath), under
// a root of their own.

interface RawClient {
  connect(): void
  close(): void
  once(event: 'connected', listener: () => void): unknown
  create(
    path: string,
    data: Buffer,
    mode: number,
    cb: (e: Error | null, path: string) => void,
  ): void
  getChildren(path: string, cb: (e: Error | null, children: string[]) => void): void
  getData(path: string, watcher: () => void, cb: (e: Error | null) => void): void
  remove(path: string, version: number, cb: (e: Error | null) => void): void
  mkdirp(path: string, cb: (e: Error | null) => void): void
}
const zk: {
  createClient(hosts: string, options: { sessionTimeout: number; retries: number }): RawClient
} = createRequire(import.meta.url)('node-zookeeper-client')

const EPHEMERAL_SEQUENTIAL = 3
const NO_NODE = -101

function call<T>(send: (done: (e: Error | null, v: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => send((e, v) => (e ? reject(e) : resolve(v))))
}

async function openRaw(url: string): Promise<RawClient> {
  const client = zk.createClient(url.replace(/^zk:\/\//, ''), {
    sessionTimeout: 30_000,
    retries: 0,
  })
  await new Promise<void>((resolve) => {
    client.once('connected', resolve)
    client.connect()
  })
  return client
}

const sequenceOf = (name: string) => name.slice(name.lastIndexOf('lock-') + 5)
const byDigits = (a: string, b: string) => (sequenceOf(a) < sequenceOf(b) ? -1 : 1)

/** Curator's recipe written by hand: create, getChildren, and (waits) a watch on the predecessor. */
function rawRecipe(name: string, waits: boolean): ContenderSpec {
  return {
    name,
    role: 'floor',
    waits,
    async open(target: BackendTarget): Promise<LockClient> {
      const { lockPath } = await import('@baton-lock/zookeeper')
      const client = await openRaw(target.url)
      const parents = new Set<string>()
      return {
        async acquire(key: string, waitMs: number): Promise<Release | null> {
          const parent = lockPath(key, '/bench-floor')
          if (!parents.has(parent)) {
            await call<void>((done) => client.mkdirp(parent, (e) => done(e, undefined)))
            parents.add(parent)
          }
          const deadline = performance.now() + waitMs
          const path = await call<string>((done) =>
            client.create(
              `${parent}/_c_${randomUUID()}-lock-`,
              Buffer.from('127.0.0.1'),
              EPHEMERAL_SEQUENTIAL,
              done,
            ),
          )
          const own = path.slice(parent.length + 1)
          const remove = () =>
            call<void>((done) => client.remove(path, -1, (e) => done(e, undefined)))
          for (;;) {
            const children = (
              await call<string[]>((done) => client.getChildren(parent, done))
            ).sort(byDigits)
            const at = children.indexOf(own)
            if (at === 0) return remove
            const left = deadline - performance.now()
            if (!waits || left <= 0) break
            let timer: NodeJS.Timeout | undefined
            const woke = await new Promise<boolean>((resolve) => {
              timer = setTimeout(() => resolve(false), left)
              client.getData(
                `${parent}/${children[at - 1]}`,
                () => resolve(true),
                (e) => {
                  if (e && (e as { code?: number }).code === NO_NODE) resolve(true)
                  else if (e) resolve(false)
                },
              )
            })
            clearTimeout(timer)
            if (!woke) break
          }
          await remove()
          return null
        },
        async close() {
          client.close()
        },
      }
    },
  }
}

/** Uncontended floor: create + getChildren + delete, one session. */
export const zookeeperFloor = rawRecipe('floor: create + getChildren + delete', false)

/**
 * Handoff floor: the raw recipe with a getData watch on the predecessor. It pays what
 * Baton's driver pays per handoff and nothing more, so the ratio is Baton's own cost: the
 * waiter's create, getChildren and getData watch (off the critical path), then one
 * getChildren after the watch fires; the holder's delete. It skips what a real lock needs
 * but costs no round trip (protected-mode recovery, session liveness, the fence, which
 * Baton reads from create2's reply).
 */
export const zookeeperRawWatch = rawRecipe('floor: raw recipe, predecessor watch', true)

export async function zookeeperDriver(target: BackendTarget): Promise<LockDriver> {
  const { ZookeeperDriver } = await import('@baton-lock/zookeeper')
  return new ZookeeperDriver({ url: target.url, minSessionTimeoutMs: 500 })
}

/** A private ZooKeeper server from @baton-lock/test-matrix. */
export async function startZookeeperBackend(): Promise<RunningBackend> {
  const { startZookeeper } = await import('@baton-lock/test-matrix')
  const server = await startZookeeper()
  return {
    target: { url: server.url },
    version: 'ZooKeeper (Debian zookeeper package, standalone)',
    provisioning: server.external
      ? 'external server (BATON_ZOOKEEPER_URL)'
      : 'native zookeeper on a free loopback port, forceSync=no (as the PostgreSQL and MariaDB servers run without fsync)',
    stop: () => server.stop(),
  }
}
