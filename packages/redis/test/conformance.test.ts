import { runConformance } from '@baton/core/conformance'
import { lockKeys, RedisDriver } from '@baton/redis'
import { startRedis } from '@baton/test-matrix'
import { Redis } from 'ioredis'
import { afterAll } from 'vitest'

const server = await startRedis()
const raw = new Redis(server.url)
afterAll(async () => {
  raw.disconnect()
  await server.stop()
})

runConformance({
  name: 'redis',
  createDriver: () => RedisDriver.connect({ url: server.url, onWarning: () => {} }),
  faults: {
    // As eviction or an operator would: the lock key vanishes; the fence hash stays.
    dropLock: async (lock) => {
      await raw.del(lockKeys('baton', lock.key).lock)
    },
  },
})
