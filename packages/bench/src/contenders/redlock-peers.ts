import type { LockDriver } from '@baton-lock/core'
import { Redis } from 'ioredis'
import { RedlockMutex } from 'redis-semaphore'
import type { BackendSpec, RunningBackend } from '../backend-spec.js'
import type { BackendTarget, ContenderSpec, LockClient, Release } from '../lock-client.js'
import { ownerId } from './owner-id.js'
import { redlockClient } from './redis-peers.js'

// The quorum rows: Baton's RedlockDriver against node-redlock (@sesamecare-oss/redlock, the
// maintained ioredis fork of `redlock`) and redis-semaphore's RedlockMutex, on 3 independent
// loopback masters. The floor is the algorithm with a fence per node: SET NX PX + INCR on every
// node at once, granted on a majority, compare-and-delete everywhere; the bare algorithm
// without a fence is a reference row.

const TTL_MS = 30_000
const NODES = 3
const RELEASE_LUA = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`

type ReleasingRedis = Redis & { floorRelease(key: string, owner: string): Promise<number> }

/** `redlock://h:p,h:p` to one `redis://h:p` per node. */
function nodeUrls(target: BackendTarget): string[] {
  return target.url
    .slice('redlock://'.length)
    .split(',')
    .map((hostPort) => `redis://${hostPort}`)
}

async function connectAll(target: BackendTarget): Promise<Redis[]> {
  const clients = nodeUrls(target).map(
    (url) => new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 }),
  )
  await Promise.all(clients.map((c) => c.connect()))
  return clients
}

async function quitAll(clients: Redis[]): Promise<void> {
  await Promise.all(clients.map((c) => c.quit().catch(() => undefined)))
}

// Per node: SET NX PX and, when granted, INCR of the key's fence counter (as the Redis floor).
const FENCED_ACQUIRE_LUA = `if redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return redis.call('incr', KEYS[2]) end return false`

type FencedRedis = ReleasingRedis & {
  floorAcquire(key: string, fenceKey: string, owner: string, ttl: number): Promise<number | null>
}

/**
 * One quorum round on `clients`: `grantOn` asks one node (resolving with the node's fence
 * counter, or 1 without a fence, when granted, and null when refused); granted on a
 * majority, the largest answer its fence; compare-and-delete everywhere otherwise and on
 * release.
 */
function quorumClient(
  clients: ReleasingRedis[],
  grantOn: (client: ReleasingRedis, key: string, owner: string) => Promise<number | null>,
): LockClient {
  const majority = Math.floor(clients.length / 2) + 1
  const releaseAll = async (key: string, owner: string) => {
    await Promise.allSettled(clients.map((c) => c.floorRelease(key, owner)))
  }
  return {
    async acquire(key: string): Promise<Release | null> {
      const owner = ownerId()
      const replies = await Promise.allSettled(clients.map((c) => grantOn(c, key, owner)))
      let granted = 0
      let fence = 0
      for (const r of replies) {
        if (r.status !== 'fulfilled' || r.value === null) continue
        granted += 1
        if (r.value > fence) fence = r.value
      }
      if (granted < majority || fence <= 0) {
        if (granted > 0) await releaseAll(key, owner)
        return null
      }
      return () => releaseAll(key, owner)
    },
    close: () => quitAll(clients),
  }
}

async function connectReleasing(target: BackendTarget): Promise<ReleasingRedis[]> {
  const clients = (await connectAll(target)) as ReleasingRedis[]
  for (const c of clients) c.defineCommand('floorRelease', { numberOfKeys: 1, lua: RELEASE_LUA })
  return clients
}

/**
 * The hand-written quorum floor, paying what the design requires of a grant (as the Redis
 * floor does): one script per node, in parallel, that does `SET key owner NX PX ttl` and
 * `INCR` of the node's fence counter for the key; granted on a majority, the fence the
 * largest of the majority's counters; compare-and-delete everywhere. Attempt-only.
 */
export const redlockFloor: ContenderSpec = {
  name: 'floor: SET NX PX + INCR fence (script) on every node, majority, compare-and-delete everywhere',
  role: 'floor',
  waits: false,
  async open(target: BackendTarget): Promise<LockClient> {
    const clients = (await connectReleasing(target)) as FencedRedis[]
    for (const c of clients) {
      c.defineCommand('floorAcquire', { numberOfKeys: 2, lua: FENCED_ACQUIRE_LUA })
    }
    return quorumClient(clients, (c, key, owner) =>
      (c as FencedRedis).floorAcquire(key, `${key}:fence`, owner, TTL_MS),
    )
  },
}

/**
 * The bare quorum algorithm without a fence (the floor before fences were required of it),
 * shown beside the floor as a reference: plain `SET NX PX` on every node at once, granted on
 * a majority, compare-and-delete everywhere. Attempt-only.
 */
export const redlockUnfenced: ContenderSpec = {
  name: 'reference: SET NX PX on every node, majority, compare-and-delete everywhere, no fence',
  role: 'reference',
  waits: false,
  async open(target: BackendTarget): Promise<LockClient> {
    return quorumClient(await connectReleasing(target), async (c, key, owner) =>
      (await c.set(key, owner, 'PX', TTL_MS, 'NX')) === 'OK' ? 1 : null,
    )
  },
}

/** node-redlock over the 3 clients, default retry settings (200 ms delay, 100 ms jitter). */
export const nodeRedlockPeer: ContenderSpec = {
  name: 'peer: node-redlock (@sesamecare-oss/redlock), 3 nodes',
  role: 'peer',
  waits: true,
  async open(target: BackendTarget): Promise<LockClient> {
    return redlockClient(await connectAll(target))
  },
}

/** redis-semaphore's RedlockMutex over the 3 clients, library defaults (polls every 10 ms). */
export const redlockMutexPeer: ContenderSpec = {
  name: 'peer: redis-semaphore RedlockMutex, 3 nodes',
  role: 'peer',
  waits: true,
  async open(target: BackendTarget): Promise<LockClient> {
    const clients = await connectAll(target)
    return {
      async acquire(key: string, waitMs: number): Promise<Release | null> {
        const mutex = new RedlockMutex(clients, key, {
          lockTimeout: TTL_MS,
          acquireTimeout: Math.max(1, waitMs),
          acquireAttemptsLimit: waitMs === 0 ? 1 : Number.POSITIVE_INFINITY,
        })
        const ok = await mutex.tryAcquire()
        if (!ok) return null
        return () => mutex.release()
      },
      close: () => quitAll(clients),
    }
  },
}

/** Three independent loopback masters from @baton-lock/test-matrix. */
async function startRedlockBackend(): Promise<RunningBackend> {
  const { startRedisNodes } = await import('@baton-lock/test-matrix')
  const nodes = await startRedisNodes(NODES, { name: 'bench-redlock' })
  const url = `redlock://${nodes.members.map((m) => `${m.host}:${m.port}`).join(',')}`
  try {
    const redis = new Redis(nodes.members[0]?.url ?? '', { lazyConnect: true })
    await redis.connect()
    const version = /redis_version:(\S+)/.exec(await redis.info('server'))?.[1] ?? 'unknown'
    await redis.quit()
    return {
      target: { url },
      version: `Redis ${version} x ${NODES} independent masters`,
      provisioning: `${NODES} redis-server processes started by @baton-lock/test-matrix on free loopback ports`,
      stop: () => nodes.stop(),
    }
  } catch (err) {
    await nodes.stop()
    throw err
  }
}

async function redlockDriver(target: BackendTarget): Promise<LockDriver> {
  const { RedlockDriver } = await import('@baton-lock/redis')
  return new RedlockDriver({ url: target.url, onWarning: () => {} })
}

/** The quorum backend: `--backend redlock`. */
export const redlockBackend: BackendSpec = {
  name: 'redlock',
  start: startRedlockBackend,
  floor: redlockFloor,
  references: [redlockUnfenced],
  createDriver: redlockDriver,
  peers: [nodeRedlockPeer, redlockMutexPeer],
  // Judged against PostgreSQL's server-side wait, as Redis is (its targets say so): without
  // this its hand-off ratios had no floor in their group and printed as "?".
  handoffReference: 'postgres',
  crossProcess: true,
}
