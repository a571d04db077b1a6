import { runConformance } from '@baton-lock/core/conformance'
import { lockKeys, RedisDriver } from '@baton-lock/redis'
import { startRedis } from '@baton-lock/test-matrix'
import { Redis } from 'ioredis'
import { afterAll, expect } from 'vitest'

const server = await startRedis()
const raw = new Redis(server.url)
const injectedWarnings: string[] = []
afterAll(async () => {
  raw.disconnect()
  await server.stop()
  expect(injectedWarnings).toEqual([]) // the safe options raise no warning
})

// As eviction or an operator would: the lock key vanishes; the fence hash stays.
const faults = {
  dropLock: async (lock: { key: string }) => {
    await raw.del(lockKeys('baton', lock.key).lock)
  },
}

runConformance({
  name: 'redis',
  createDriver: () => RedisDriver.connect({ url: server.url, onWarning: () => {} }),
  faults,
})

// The same through an injected client with the documented safe options, owned by the driver.
runConformance({
  name: 'redis (injected ioredis client)',
  createDriver: () =>
    RedisDriver.connect({
      client: new Redis(server.url, {
        lazyConnect: true,
        enableOfflineQueue: false,
        autoResendUnfulfilledCommands: false,
        maxRetriesPerRequest: 0,
        commandTimeout: 2_000,
      }),
      ownsClient: true,
      onWarning: (message) => injectedWarnings.push(message),
    }),
  faults,
})
