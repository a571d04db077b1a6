import { Redis } from 'ioredis'
import type { BackendTarget, ContenderSpec, LockClient, Release } from '../lock-client.js'
import { ownerId } from './owner-id.js'

// Compare-and-delete: the only correct release for a SET NX lock (never delete another
// owner's key). Sent as EVALSHA through defineCommand, so the script body crosses the wire once.
const RELEASE_LUA = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`
const TTL_MS = 30_000

type ReleasingRedis = Redis & { batonFloorRelease(key: string, owner: string): Promise<number> }

/**
 * The hand-written Redis floor: one ioredis connection, `SET key owner NX PX ttl` to acquire,
 * compare-and-delete to release: two round trips per uncontended cycle. Attempt-only.
 */
export const redisFloor: ContenderSpec = {
  name: 'floor: SET NX PX + compare-and-delete',
  role: 'floor',
  waits: false,
  async open(target: BackendTarget): Promise<LockClient> {
    const redis = new Redis(target.url, {
      lazyConnect: true,
      maxRetriesPerRequest: 1,
    }) as ReleasingRedis
    redis.defineCommand('batonFloorRelease', { numberOfKeys: 1, lua: RELEASE_LUA })
    await redis.connect()
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
