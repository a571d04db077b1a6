import type { DriverLease } from '@baton-lock/core'
import { Locker } from '@baton-lock/core'
import { driverRequest, uniqueKey } from '@baton-lock/core/driver'
import { lockKeys } from '@baton-lock/redis'
import { type ServerHandle, startRedis } from '@baton-lock/test-matrix'
import { Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { DriverPool, median, scriptCalls } from './helpers.js'

let server: ServerHandle
let raw: Redis
const pool = new DriverPool()

beforeAll(async () => {
  server = await startRedis()
  raw = new Redis(server.url)
})
afterEach(() => pool.closeAll())
afterAll(async () => {
  raw?.disconnect()
  await server?.stop()
})

describe('waiting without the subscriber', () => {
  it('subscriber connection gone for good: the waiter gets the lock through the PTTL backstop', async () => {
    const [d1, d2] = [await pool.connect(server.url), await pool.connect(server.url)]
    const key = uniqueKey('backstop')
    const holderTtlMs = 1_500
    const held = (await d1.acquire(driverRequest(key, { ttlMs: holderTtlMs }))) as DriverLease
    const heldAt = performance.now()
    const waiting = d2.acquire(driverRequest(key, { waitMs: 20_000 }))
    // The waiter tried, subscribed, then joined the queue in Redis.
    await expect.poll(() => raw.llen(lockKeys('baton', key).queue)).toBe(1)
    const subscriber = d2.subscriber
    subscriber?.disconnect() // no reconnect: every release message is lost from here on
    await expect.poll(() => subscriber?.status).toBe('end')
    await d1.release(held)
    const got = await waiting
    const waitedMs = performance.now() - heldAt
    expect(got?.fence).toBe(held.fence + 1n)
    // Not before the holder's PTTL ran out (no message could arrive), and not much after.
    expect(waitedMs).toBeGreaterThanOrEqual(holderTtlMs - 50)
    expect(waitedMs).toBeLessThan(holderTtlMs + 2_000)
  })

  it('subscriber killed (CLIENT KILL TYPE pubsub) while waiting: the waiter still gets the lock', async () => {
    const l1 = new Locker(await pool.connect(server.url), { closeDriver: false })
    const d2 = await pool.connect(server.url)
    const l2 = new Locker(d2, { closeDriver: false })
    const key = uniqueKey('killed')
    const held = await l1.acquire(key, { ttlMs: 3_000 })
    const waiting = l2.acquire(key, { waitMs: 20_000 })
    await expect.poll(() => d2.waiting).toBe(1)
    expect(Number(await raw.client('KILL', 'TYPE', 'pubsub'))).toBeGreaterThanOrEqual(1)
    await held.release()
    const got = await waiting
    expect(got.fence).toBe(held.fence + 1n)
    await got.release()
    await Promise.all([l1.close(), l2.close()])
  })
})

describe('push latency', () => {
  it('a waiter on another driver acquires within a few ms of the release', async () => {
    const [d1, d2] = [await pool.connect(server.url), await pool.connect(server.url)]
    const key = uniqueKey('latency')
    const samples: number[] = []
    for (let i = 0; i < 15; i++) {
      const held = (await d1.acquire(driverRequest(key, { ttlMs: 30_000 }))) as DriverLease
      const scripts = await scriptCalls(raw)
      const waiting = d2.acquire(driverRequest(key, { waitMs: 10_000 }))
      // The waiter's first try failed on the server: from here on only a message wakes it.
      await expect.poll(() => scriptCalls(raw), { interval: 2 }).toBeGreaterThan(scripts)
      const releasedAt = performance.now()
      await d1.release(held)
      const got = (await waiting) as DriverLease
      samples.push(performance.now() - releasedAt)
      await d2.release(got)
    }
    const mid = median(samples)
    console.log(
      `redis push handoff: median ${mid.toFixed(2)} ms, max ${Math.max(...samples).toFixed(2)} ms over ${samples.length} samples`,
    )
    expect(mid).toBeLessThan(50)
  })
})
