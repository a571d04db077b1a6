import { Redis } from 'ioredis'
import { afterEach, describe, expect, test } from 'vitest'
import { type ServerHandle, startRedis, startRedisNodes } from '../src/index.js'
import { skipIfExternal, useServer } from '../src/vitest.js'

const clients: Redis[] = []
function client(url: string): Redis {
  const redis = new Redis(url, {
    commandTimeout: 1_000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  })
  redis.on('error', () => {})
  clients.push(redis)
  return redis
}
afterEach(() => {
  for (const c of clients.splice(0)) c.disconnect()
})

const runId = async (handle: ServerHandle) => {
  const info = await client(handle.url).info('server')
  return /run_id:(\w+)/.exec(info)?.[1]
}

describe('startRedis', () => {
  const redis = useServer(() => startRedis())

  test('serves a real client on a loopback port that is not 6379', async (ctx) => {
    skipIfExternal(ctx, redis())
    expect(redis().host).toBe('127.0.0.1')
    expect(redis().port).not.toBe(6379)
    expect(redis().url).toBe(`redis://127.0.0.1:${redis().port}`)
    await client(redis().url).set('baton:smoke', 'ok')
    expect(await client(redis().url).get('baton:smoke')).toBe('ok')
  })

  test('is unreachable while paused and answers again after resume', async (ctx) => {
    skipIfExternal(ctx, redis())
    const before = client(redis().url)
    await before.ping()
    await redis().pause()
    try {
      await expect(before.ping()).rejects.toThrow(/timed out/i)
    } finally {
      await redis().resume()
    }
    expect(await client(redis().url).ping()).toBe('PONG')
  })

  test('restart() keeps the port and comes back as a new server process', async (ctx) => {
    skipIfExternal(ctx, redis())
    const first = await runId(redis())
    await redis().restart()
    expect(await runId(redis())).not.toBe(first)
  })

  test('kill() then restart() brings the server back on the same port', async (ctx) => {
    skipIfExternal(ctx, redis())
    await redis().kill()
    await expect(client(redis().url).ping()).rejects.toThrow()
    await redis().restart()
    expect(await client(redis().url).ping()).toBe('PONG')
  })
})

describe('startRedis options', () => {
  test('password and appendonly: data survives kill -9 and restart', async (ctx) => {
    const redis = await startRedis({ password: 'p@ss word', appendonly: true })
    try {
      skipIfExternal(ctx, redis)
      expect(redis.url).toBe(`redis://:p%40ss%20word@127.0.0.1:${redis.port}`)
      await expect(client(`redis://127.0.0.1:${redis.port}`).get('k')).rejects.toThrow(/NOAUTH/)
      await client(redis.url).incr('fence')
      await redis.kill()
      await redis.restart()
      expect(await client(redis.url).get('fence')).toBe('1')
    } finally {
      await redis.stop()
    }
  })

  test('startRedisNodes(3) gives three independent servers', async (ctx) => {
    const nodes = await startRedisNodes(3)
    try {
      skipIfExternal(ctx, nodes)
      expect(nodes.members).toHaveLength(3)
      expect(new Set(nodes.members.map((m) => m.port)).size).toBe(3)
      await client(nodes.members[0]?.url ?? '').set('only-on-0', '1')
      expect(await client(nodes.members[1]?.url ?? '').get('only-on-0')).toBeNull()
      expect(nodes.url.split(',')).toHaveLength(3)
    } finally {
      await nodes.stop()
    }
  })
})
