import type { DriverLease } from '@baton-lock/core'
import { Locker } from '@baton-lock/core'
import { driverRequest, uniqueKey } from '@baton-lock/core/driver'
import { lockKeys } from '@baton-lock/redis'
import { type FaultProxy, type ServerHandle, startProxy, startRedis } from '@baton-lock/test-matrix'
import { Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { DriverPool, scriptCalls } from './helpers.js'

let server: ServerHandle
let proxy: FaultProxy
let raw: Redis
const pool = new DriverPool()

beforeAll(async () => {
  server = await startRedis()
  proxy = await startProxy({ host: server.host, port: server.port })
  raw = new Redis(server.url)
})
afterEach(async () => {
  proxy.heal()
  await pool.closeAll()
})
afterAll(async () => {
  raw?.disconnect()
  await proxy?.close()
  await server?.stop()
})

/** d1 straight to the server holds `key`; d2 through the proxy waits for it, its first try done. */
async function heldAndWaiting(holderTtlMs: number) {
  const d1 = await pool.connect(server.url)
  const d2 = await pool.connect(proxy.urlFor(server.url))
  const key = uniqueKey('proxy')
  const held = (await d1.acquire(driverRequest(key, { ttlMs: holderTtlMs }))) as DriverLease
  const heldAt = performance.now()
  const scripts = await scriptCalls(raw)
  const waiting = d2.acquire(driverRequest(key, { waitMs: 20_000 }))
  await expect.poll(() => scriptCalls(raw)).toBeGreaterThan(scripts)
  const connections = proxy.connections()
  expect(connections).toHaveLength(2) // d2's command connection, then its subscriber
  return { d1, d2, held, heldAt, waiting, subscriberLink: connections[1] }
}

describe('subscriber connection faults (fault proxy)', () => {
  it('subscriber silenced (held): the waiter gets the lock through the PTTL backstop', async () => {
    const holderTtlMs = 1_500
    const { d1, held, heldAt, waiting, subscriberLink } = await heldAndWaiting(holderTtlMs)
    subscriberLink?.hold('toClient')
    await d1.release(held)
    const got = await waiting
    const waitedMs = performance.now() - heldAt
    expect(got?.fence).toBe(held.fence + 1n)
    expect(waitedMs).toBeGreaterThanOrEqual(holderTtlMs - 50)
    expect(waitedMs).toBeLessThan(holderTtlMs + 2_000)
  })

  it('subscriber cut (RST) while the key is released: reconnect, resubscribe, re-check', async () => {
    const holderTtlMs = 30_000
    const { d1, held, heldAt, waiting, subscriberLink } = await heldAndWaiting(holderTtlMs)
    subscriberLink?.cut()
    await d1.release(held)
    const got = await waiting
    expect(got?.fence).toBe(held.fence + 1n)
    expect(performance.now() - heldAt).toBeLessThan(holderTtlMs / 2) // not the backstop
  })
})

describe('holder partitioned (fault proxy holds its traffic)', () => {
  it('an unanswered acquire or release fails with the command timeout, and a later one succeeds', async () => {
    const d = await pool.connect(proxy.urlFor(server.url), { commandTimeoutMs: 300 })
    const key = uniqueKey('timeout')
    const held = (await d.acquire(driverRequest(key, { ttlMs: 10_000 }))) as DriverLease
    proxy.hold()
    for (const call of [
      () => d.release(held),
      () => d.acquire(driverRequest(uniqueKey('timeout'))),
      () => d.acquire(driverRequest(uniqueKey('timeout'), { waitMs: 5_000 })),
    ]) {
      const startedAt = performance.now()
      await expect(call()).rejects.toThrow('Command timed out')
      const tookMs = performance.now() - startedAt
      expect(tookMs).toBeGreaterThanOrEqual(290)
      expect(tookMs).toBeLessThan(1_500)
    }
    proxy.heal()
    await d.client.ping() // replies come in order: every held command has run
    expect(await raw.exists(lockKeys('baton', key).lock)).toBe(0) // the held release ran late
    const again = await d.acquire(driverRequest(key))
    expect(again?.fence).toBe(held.fence + 1n)
  })

  it('the holder loses by validUntil, another takes over, late bytes after heal change nothing', async () => {
    const ttlMs = 1_000
    const partitioned = await pool.connect(proxy.urlFor(server.url), { commandTimeoutMs: 200 })
    const other = await pool.connect(server.url)
    const a = new Locker(partitioned, { ttlMs, closeDriver: false })
    const b = new Locker(other, { ttlMs, closeDriver: false })
    const key = uniqueKey('partition')
    const first = await a.acquire(key)
    const grantedAt = performance.now()
    proxy.hold()
    await expect.poll(() => first.signal.aborted, { timeout: 5 * ttlMs }).toBe(true)
    expect(performance.now() - grantedAt).toBeLessThanOrEqual(ttlMs + 500)
    const second = await b.acquire(key, { waitMs: 5 * ttlMs })
    expect(second.fence).toBeGreaterThan(first.fence)
    proxy.heal() // the held renewals reach the server now, late
    await partitioned.client.ping() // replies come in order: every held command has run
    await first.release()
    expect(await raw.pttl(lockKeys('baton', key).lock)).toBeGreaterThan(0)
    expect((await other.inspect(key))?.owner).toBe(second.owner)
    expect(second.isValid()).toBe(true)
    await second.release()
    await Promise.all([a.close(), b.close()])
  })
})
