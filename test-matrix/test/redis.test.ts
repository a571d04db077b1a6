import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { type ServerHandle, startRedis } from '../src/index.js'

describe('startRedis', () => {
  let redis: ServerHandle
  beforeAll(async () => {
    redis = await startRedis()
  })
  afterAll(async () => {
    await redis?.stop()
  })

  test('serves a real client on a loopback port that is not 6379', async () => {
    expect(redis.host).toBe('127.0.0.1')
    expect(redis.port).not.toBe(6379)
    expect(redis.url).toBe(`redis://127.0.0.1:${redis.port}`)
    const client = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 })
    try {
      await client.connect()
      await client.set('baton:smoke', 'ok')
      expect(await client.get('baton:smoke')).toBe('ok')
    } finally {
      client.disconnect()
    }
  })
})
