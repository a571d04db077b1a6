import { Locker } from '@baton-lock/core'
import { driverRequest } from '@baton-lock/core/driver'
import { startProxy, startZookeeper } from '@baton-lock/test-matrix'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { ZookeeperDriver } from '../src/index.js'
import { zookeeper } from '../src/zk-client.js'

let server: Awaited<ReturnType<typeof startZookeeper>>
let proxy: Awaited<ReturnType<typeof startProxy>>

beforeAll(async () => {
  server = await startZookeeper()
  proxy = await startProxy({ host: server.host, port: server.port })
}, 240_000)
afterAll(async () => {
  await proxy?.close()
  await server?.stop()
})

test('S1/N1: a holder behind a silent partition is lost by validUntil, while node-zookeeper-client still says connected', async () => {
  const ttlMs = 2_000
  const key = 'partition:silent'
  // an injected client, so the test can ask the library what it believes
  const client = zookeeper.createClient(proxy.urlFor(server.url).replace(/^zk:\/\//, ''), {
    sessionTimeout: ttlMs,
    spinDelay: 100,
    retries: 0,
  })
  const holder = new Locker(
    new ZookeeperDriver({ client, closeClient: true, minSessionTimeoutMs: 500 }),
    { ttlMs },
  )
  const contender = new ZookeeperDriver({ url: server.url, minSessionTimeoutMs: 500 })
  try {
    const handle = await holder.acquire(key, { waitMs: 10_000 })
    let abortedAtMs = 0
    let stateAtAbort = ''
    handle.signal.addEventListener('abort', () => {
      abortedAtMs = performance.now()
      stateAtAbort = client.getState().name
    })
    const keepUntil = performance.now() + 1.5 * ttlMs
    while (performance.now() < keepUntil) {
      expect(await contender.acquire(driverRequest(key))).toBeNull()
      await new Promise((r) => setTimeout(r, 200))
    }
    const partitionedAt = performance.now()
    proxy.hold('both') // TCP stays up, nothing gets through
    const lease = await contender.acquire(driverRequest(key, { waitMs: 20_000 }))
    const grantedAt = performance.now()
    console.info(
      `zookeeper: partitioned holder lost after ${Math.round(abortedAtMs - partitionedAt)} ms (client state then: ${stateAtAbort}), ` +
        `key granted elsewhere after ${Math.round(grantedAt - partitionedAt)} ms (session timeout ${ttlMs} ms)`,
    )
    expect(lease).not.toBeNull()
    expect(abortedAtMs).toBeGreaterThan(0)
    expect(abortedAtMs).toBeLessThanOrEqual(grantedAt)
    expect(stateAtAbort).toBe('SYNC_CONNECTED')
    expect(handle.isValid()).toBe(false)
    expect(grantedAt - partitionedAt).toBeLessThan(ttlMs + 3_000)
    expect((lease?.fence ?? 0n) > handle.fence).toBe(true)
    if (lease) await contender.release(lease)
  } finally {
    // close the partitioned client first: what the proxy held back must not reach it
    await holder.close()
    proxy.heal()
    await contender.close()
  }
})

test('L3/H1: with the server unreachable, an aborted wait returns at once and close() still finishes', async () => {
  const key = 'partition:unreachable'
  const contender = new ZookeeperDriver({ url: server.url, minSessionTimeoutMs: 500 })
  const through = new ZookeeperDriver({ url: proxy.urlFor(server.url), minSessionTimeoutMs: 500 })
  try {
    const held = await contender.acquire(driverRequest(key, { ttlMs: 10_000 }))
    expect(held).not.toBeNull()
    await through.ready()
    proxy.hold('both')
    const abort = new AbortController()
    const waiting = through.acquire(
      driverRequest(key, { waitMs: 30_000, ttlMs: 10_000, signal: abort.signal }),
    )
    await new Promise((r) => setTimeout(r, 200))
    const abortedAt = performance.now()
    abort.abort()
    expect(await waiting).toBeNull()
    expect(performance.now() - abortedAt).toBeLessThan(100)
    const closeAt = performance.now()
    await through.close()
    expect(performance.now() - closeAt).toBeLessThan(5_000)
    if (held) await contender.release(held)
  } finally {
    await through.close()
    proxy.heal()
    await contender.close()
  }
})
