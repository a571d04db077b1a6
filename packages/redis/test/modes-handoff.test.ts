import type { AcquireRequest, DriverLease } from '@baton-lock/core'
import { driverRequest, uniqueKey } from '@baton-lock/core/driver'
import { lockKeys, semaphoreKeys } from '@baton-lock/redis'
import { type ServerHandle, startRedis } from '@baton-lock/test-matrix'
import { Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { DriverPool } from './helpers.js'

// What a release hands on, checked on the server right after the release returns (the
// hand-off is part of the release's script, so there is nothing to wait for): every reader
// at the head of the queue is admitted together, and every permit freed goes to a waiter.

let server: ServerHandle
let raw: Redis
const pool = new DriverPool()

beforeAll(async () => {
  server = await startRedis()
  raw = new Redis(server.url)
})
afterEach(async () => {
  await pool.closeAll()
})
afterAll(async () => {
  raw?.disconnect()
  await server?.stop()
})

const shared = (key: string, o: Partial<AcquireRequest> = {}) =>
  driverRequest(key, { mode: 'shared', ...o })
const permit = (key: string, limit: number, o: Partial<AcquireRequest> = {}) =>
  driverRequest(key, { mode: 'semaphore', limit, ...o })

function granted(lease: DriverLease | null): DriverLease {
  expect(lease).not.toBeNull()
  return lease as DriverLease
}

async function queued(queue: string, n: number): Promise<void> {
  await expect.poll(() => raw.llen(queue), { timeout: 10_000, interval: 5 }).toBe(n)
}

describe('hand-off at release', () => {
  it("a writer's release admits all three readers queued behind it at once, and stops at the writer after them", async () => {
    const [d, e] = [await pool.connect(server.url), await pool.connect(server.url)]
    const key = uniqueKey('handoff-readers')
    const keys = lockKeys('baton', key)
    const w = granted(await e.acquire(driverRequest(key)))
    const readers: Array<Promise<DriverLease | null>> = []
    for (let i = 0; i < 3; i++) {
      readers.push(d.acquire(shared(key, { waitMs: 20_000 })))
      await queued(keys.queue, i + 1)
    }
    const writer = e.acquire(driverRequest(key, { waitMs: 20_000 }))
    await queued(keys.queue, 4)
    expect(await e.release(w)).toBe(true)
    // the release's own script admitted them: nothing else ran in between
    expect(await d.inspect(key)).toMatchObject({ mode: 'shared', holders: 3 })
    expect(await raw.llen(keys.queue)).toBe(1)
    const leases = (await Promise.all(readers)).map(granted)
    const fences = leases.map((l) => l.fence)
    expect(new Set(fences).size).toBe(3)
    for (const f of fences) expect(f).toBeGreaterThan(w.fence)
    for (const l of leases) await d.release(l)
    const w2 = granted(await writer)
    for (const f of fences) expect(w2.fence).toBeGreaterThan(f)
    await e.release(w2)
  })

  it('a released permit goes to the first waiter in the same script, the next one to the next', async () => {
    const [d, e] = [await pool.connect(server.url), await pool.connect(server.url)]
    const key = uniqueKey('handoff-permits')
    const keys = semaphoreKeys('baton', key)
    const p1 = granted(await d.acquire(permit(key, 2)))
    const p2 = granted(await d.acquire(permit(key, 2)))
    const w1 = e.acquire(permit(key, 2, { waitMs: 20_000 }))
    await queued(keys.queue, 1)
    const w2 = e.acquire(permit(key, 2, { waitMs: 20_000 }))
    await queued(keys.queue, 2)
    expect(await d.release(p1)).toBe(true)
    expect(await raw.llen(keys.queue)).toBe(1)
    expect(await d.inspect(key, 'semaphore')).toMatchObject({ holders: 2, limit: 2 })
    const g1 = granted(await w1)
    expect(g1.fence).toBeGreaterThan(p2.fence)
    expect(await d.release(p2)).toBe(true)
    expect(await raw.llen(keys.queue)).toBe(0)
    const g2 = granted(await w2)
    expect(g2.fence).toBeGreaterThan(g1.fence)
    await e.release(g1)
    await e.release(g2)
  })

  it('a try without waiting counts only live permits: a permit past its TTL does not refuse it', async () => {
    const d = await pool.connect(server.url)
    const key = uniqueKey('expired-permit')
    const stale = granted(await d.acquire(permit(key, 2, { ttlMs: 200 })))
    const live = granted(await d.acquire(permit(key, 2, { ttlMs: 5_000 })))
    await new Promise((resolve) => setTimeout(resolve, 400)) // twice the stale permit's TTL
    const next = granted(await d.acquire(permit(key, 2)))
    expect(next.fence).toBeGreaterThan(live.fence)
    expect(await d.acquire(permit(key, 2))).toBeNull()
    expect(await d.release(stale)).toBe(false)
    await d.release(live)
    await d.release(next)
  })

  it('a release hands on every permit free at that moment, counting a permit past its expiry as free', async () => {
    const [d, e] = [await pool.connect(server.url), await pool.connect(server.url)]
    const key = uniqueKey('handoff-expired-permit')
    const keys = semaphoreKeys('baton', key)
    const stale = granted(await d.acquire(permit(key, 2, { ttlMs: 60_000 })))
    const live = granted(await d.acquire(permit(key, 2)))
    const waits = [e.acquire(permit(key, 2, { waitMs: 20_000 }))]
    await queued(keys.queue, 1)
    waits.push(e.acquire(permit(key, 2, { waitMs: 20_000 })))
    await queued(keys.queue, 2)
    // as if the stale permit's TTL ran out (its holder stopped renewing), without waking anyone
    const [seconds, micros] = await raw.time()
    await raw.zadd(
      keys.holders,
      Number(seconds) * 1000 + Math.floor(Number(micros) / 1000) - 1,
      stale.owner,
    )
    expect(await d.release(live)).toBe(true)
    expect(await raw.llen(keys.queue)).toBe(0)
    expect(await d.inspect(key, 'semaphore')).toMatchObject({ holders: 2 })
    const leases = (await Promise.all(waits)).map(granted)
    for (const l of leases) await e.release(l)
    expect(await d.release(stale)).toBe(false)
  })
})
