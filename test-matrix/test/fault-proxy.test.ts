import { connect, createServer, type Server } from 'node:net'
import { Redis } from 'ioredis'
import pg from 'pg'
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest'
import { type FaultProxy, startPostgres, startProxy, startRedis } from '../src/index.js'
import { useServer } from '../src/vitest.js'
import { eventually, withTimeout } from './helpers.js'

const closers: (() => unknown)[] = []
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close()
})

function redisVia(url: string): Redis {
  const client = new Redis(url, { maxRetriesPerRequest: 0, retryStrategy: () => null })
  client.on('error', () => {})
  closers.push(() => client.disconnect())
  return client
}

async function proxyFor(target: { host: string; port: number }): Promise<FaultProxy> {
  const proxy = await startProxy(target)
  closers.push(() => proxy.close())
  return proxy
}

const timed = async (fn: () => Promise<unknown>) => {
  const start = performance.now()
  await fn()
  return performance.now() - start
}

describe('fault proxy through ioredis', () => {
  const redis = useServer(() => startRedis())

  test('forwards transparently and rewrites URLs', async () => {
    const proxy = await proxyFor(redis())
    expect(proxy.urlFor(redis().url)).toBe(`redis://127.0.0.1:${proxy.port}`)
    expect(await redisVia(proxy.urlFor(redis().url)).ping()).toBe('PONG')
    expect(proxy.connections()).toHaveLength(1)
  })

  test('delay() slows each direction, heal() removes it', async () => {
    const proxy = await proxyFor(redis())
    const client = redisVia(proxy.urlFor(redis().url))
    await client.ping()
    proxy.delay(500, 0, 'toServer')
    expect(await timed(() => client.ping())).toBeGreaterThanOrEqual(490)
    proxy.delay(500, 0, 'both')
    expect(await timed(() => client.ping())).toBeGreaterThanOrEqual(990)
    proxy.heal()
    expect(await timed(() => client.ping())).toBeLessThan(450) // generous: the machine is shared
  })

  test('hold() stalls traffic without loss; heal() delivers it in order', async () => {
    const proxy = await proxyFor(redis())
    const client = redisVia(proxy.urlFor(redis().url))
    await client.ping()
    proxy.hold()
    const held = client.incr('held')
    await expect(withTimeout(held, 500)).rejects.toThrow(/timed out/)
    expect(await redisVia(redis().url).get('held')).toBeNull() // never reached the server
    proxy.heal()
    expect(await held).toBe(1)
  })

  test("hold('toClient'): the server executes, the reply is held", async () => {
    const proxy = await proxyFor(redis())
    const client = redisVia(proxy.urlFor(redis().url))
    await client.ping()
    proxy.hold('toClient')
    const reply = client.set('one-way', 'arrived')
    await eventually(async () => (await redisVia(redis().url).get('one-way')) === 'arrived', 5_000)
    await expect(withTimeout(reply, 300)).rejects.toThrow(/timed out/)
    proxy.heal()
    expect(await reply).toBe('OK')
  })

  test('cut() resets every connection; new ones still work', async () => {
    const proxy = await proxyFor(redis())
    const client = redisVia(proxy.urlFor(redis().url))
    await client.ping()
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()))
    proxy.cut()
    await withTimeout(closed, 2_000)
    await expect(client.ping()).rejects.toThrow()
    expect(await redisVia(proxy.urlFor(redis().url)).ping()).toBe('PONG')
  })

  test('reset() is cut() under the name DESIGN.md uses', async () => {
    const proxy = await proxyFor(redis())
    const client = redisVia(proxy.urlFor(redis().url))
    await client.ping()
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()))
    proxy.reset()
    await withTimeout(closed, 2_000)
  })

  test('refuse() resets new connections only; heal() accepts again', async () => {
    const proxy = await proxyFor(redis())
    const existing = redisVia(proxy.urlFor(redis().url))
    await existing.ping()
    proxy.refuse()
    const refused = new Redis(proxy.urlFor(redis().url), {
      lazyConnect: true,
      retryStrategy: () => null,
      maxRetriesPerRequest: 0,
    })
    refused.on('error', () => {})
    closers.push(() => refused.disconnect())
    await expect(refused.connect().then(() => refused.ping())).rejects.toThrow()
    expect(await existing.ping()).toBe('PONG')
    proxy.heal()
    expect(await redisVia(proxy.urlFor(redis().url)).ping()).toBe('PONG')
  })

  test('faults on one connection leave the others alone', async () => {
    const proxy = await proxyFor(redis())
    const a = redisVia(proxy.urlFor(redis().url))
    await a.ping()
    const b = redisVia(proxy.urlFor(redis().url))
    await b.ping()
    const [first] = proxy.connections()
    first?.hold()
    await expect(withTimeout(a.ping(), 300)).rejects.toThrow(/timed out/)
    expect(await b.ping()).toBe('PONG')
    first?.heal()
    expect(await a.ping()).toBe('PONG')
  })
})

describe('fault proxy byte order', () => {
  let echo: Server
  let port = 0
  beforeAll(async () => {
    echo = createServer((socket) => {
      socket.on('error', () => {}) // the proxy resets it on close()
      socket.pipe(socket)
    })
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve))
    const address = echo.address()
    port = typeof address === 'object' && address ? address.port : 0
  })
  afterAll(async () => {
    await new Promise((resolve) => echo.close(resolve))
  })

  test('delay with jitter keeps every byte in order', async () => {
    const proxy = await proxyFor({ host: '127.0.0.1', port })
    proxy.delay(5, 40)
    const socket = connect({ host: '127.0.0.1', port: proxy.port })
    socket.on('error', () => {})
    closers.push(() => socket.destroy())
    socket.setNoDelay(true)
    let received = ''
    socket.setEncoding('utf8').on('data', (text: string) => {
      received += text
    })
    let sent = ''
    for (let i = 0; i < 200; i++) {
      const chunk = `${i},`
      sent += chunk
      socket.write(chunk)
      if (i % 10 === 0) await new Promise((resolve) => setImmediate(resolve))
    }
    await eventually(async () => received.length >= sent.length, 10_000)
    expect(received).toBe(sent)
  })
})

describe('fault proxy halfClose through pg', () => {
  const postgres = useServer(() => startPostgres())

  test('the server ends the session (locks freed) while the client hears nothing', async () => {
    const proxy = await proxyFor(postgres())
    const holder = new pg.Client({
      connectionString: proxy.urlFor(postgres().url),
      query_timeout: 500,
    })
    holder.on('error', () => {})
    await holder.connect()
    closers.push(() => holder.end().catch(() => {}))
    await holder.query('select pg_advisory_lock(7)')
    const other = new pg.Client({ connectionString: postgres().url })
    await other.connect()
    closers.push(() => other.end())
    expect((await other.query('select pg_try_advisory_lock(7) as ok')).rows[0].ok).toBe(false)
    proxy.halfClose()
    await eventually(async () => {
      const { rows } = await other.query('select pg_try_advisory_lock(7) as ok')
      return rows[0].ok === true
    }, 5_000)
    await expect(holder.query('select 1')).rejects.toThrow(/timeout/i)
  })
})
