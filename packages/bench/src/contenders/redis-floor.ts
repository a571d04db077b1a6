import { Redis } from 'ioredis'
import type { BackendTarget, ContenderSpec, LockClient, Release } from '../lock-client.js'
import { ownerId } from './owner-id.js'

// Compare-and-delete: the only correct release for a SET NX lock (never delete another
// owner's key). Scripts go as EVALSHA through defineCommand, so a body crosses the wire once.
const RELEASE_LUA = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`
// The design's Redis acquire: SET NX PX and, when granted, INCR of the key's fence counter,
// in one script. Returns the fence, or nil when the key is held.
const ACQUIRE_LUA = `if redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return redis.call('incr', KEYS[2]) end return false`
const TTL_MS = 30_000

type FloorRedis = Redis & {
  batonFloorRelease(key: string, owner: string): Promise<number>
  batonFloorAcquire(
    key: string,
    fenceKey: string,
    owner: string,
    ttl: number,
  ): Promise<number | null>
}

async function connect(url: string): Promise<FloorRedis> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 }) as FloorRedis
  redis.defineCommand('batonFloorRelease', { numberOfKeys: 1, lua: RELEASE_LUA })
  redis.defineCommand('batonFloorAcquire', { numberOfKeys: 2, lua: ACQUIRE_LUA })
  await redis.connect()
  return redis
}

/**
 * The hand-written Redis floor, paying what the design requires of a grant: one ioredis
 * connection, one script that does `SET key owner NX PX ttl` and `INCR` of the key's fence
 * counter, and compare-and-delete to release: two round trips per uncontended cycle, a
 * fence per grant, a pooled crypto owner id. Attempt-only.
 */
export const redisFloor: ContenderSpec = {
  name: 'floor: SET NX PX + INCR fence (script) + compare-and-delete',
  role: 'floor',
  waits: false,
  async open(target: BackendTarget): Promise<LockClient> {
    const redis = await connect(target.url)
    return {
      async acquire(key: string): Promise<Release | null> {
        const owner = ownerId()
        const fence = await redis.batonFloorAcquire(key, `${key}:fence`, owner, TTL_MS)
        if (fence === null) return null
        return async () => {
          await redis.batonFloorRelease(key, owner)
        }
      },
      async close() {
        await redis.quit()
      },
    }
  },
}

/**
 * The bare protocol without a fence (the former floor), shown beside the floor as a
 * reference: plain `SET key owner NX PX ttl`, then compare-and-delete. Attempt-only.
 */
export const redisUnfenced: ContenderSpec = {
  name: 'reference: SET NX PX + compare-and-delete, no fence',
  role: 'reference',
  waits: false,
  async open(target: BackendTarget): Promise<LockClient> {
    const redis = await connect(target.url)
    return {
      async acquire(key: string): Promise<Release | null> {
        const owner = ownerId()
        const ok = await redis.set(key, owner, 'PX', TTL_MS, 'NX')
        if (ok !== 'OK') return null
        return async () => {
          await redis.batonFloorRelease(key, owner)
        }
      },
      async close() {
        await redis.quit()
      },
    }
  },
}
