import { createHash } from 'node:crypto'
import type { AcquireRequest, DriverLease } from '@baton-lock/core'
import { driverRequest, LockLimitMismatchError, uniqueKey } from '@baton-lock/core/driver'
import { lockKeys, type RedisDriver, semaphoreKeys } from '@baton-lock/redis'
import { type ServerHandle, startRedis } from '@baton-lock/test-matrix'
import { Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { DriverPool } from './helpers.js'

// Shared locks and semaphores at the driver level, against a real redis-server: the readers
// share the mutex's fair queue, semaphores have their own keys, every grant its own expiry.

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

/** Every Redis key of `key`'s hash tag (lock and semaphore). */
async function keysOf(key: string): Promise<string[]> {
  const tag = createHash('sha256').update(key, 'utf8').digest('hex')
  return (await raw.keys(`baton:{${tag}}:*`)).sort()
}

/** Waits (bounded) until the queue list `queue` holds `n` entries. */
async function queued(queue: string, n: number): Promise<void> {
  await expect.poll(() => raw.llen(queue), { timeout: 10_000, interval: 5 }).toBe(n)
}

function granted(lease: DriverLease | null): DriverLease {
  expect(lease).not.toBeNull()
  return lease as DriverLease
}

describe('shared locks', () => {
  it('admits readers together across drivers, excludes a writer, and fences increase across modes (F1)', async () => {
    const [a, b] = [await pool.connect(server.url), await pool.connect(server.url)]
    const key = uniqueKey('readers')
    const w0 = granted(await a.acquire(driverRequest(key)))
    expect(await b.acquire(shared(key))).toBeNull() // a writer excludes readers
    await a.release(w0)
    const readers = [
      granted(await a.acquire(shared(key))),
      granted(await b.acquire(shared(key))),
      granted(await a.acquire(shared(key))),
    ]
    expect(readers.map((r) => r.fence)).toEqual([2n, 3n, 4n])
    expect(await b.acquire(driverRequest(key))).toBeNull() // readers exclude a writer
    const info = await b.inspect(key)
    expect(info).toMatchObject({ held: true, mode: 'shared', holders: 3, fence: 4n })
    expect(readers.map((r) => r.owner)).toContain(info?.owner)
    expect(await a.release(readers[0] as DriverLease)).toBe(true)
    expect(await b.release(readers[1] as DriverLease)).toBe(true)
    expect(await b.acquire(driverRequest(key))).toBeNull() // one reader is left
    expect(await a.release(readers[2] as DriverLease)).toBe(true)
    expect(await a.release(readers[2] as DriverLease)).toBe(false)
    const w1 = granted(await b.acquire(driverRequest(key)))
    expect(w1.fence).toBe(5n)
    expect(await b.inspect(key)).toMatchObject({ mode: 'exclusive', holders: 1, owner: w1.owner })
    await b.release(w1)
    // H1: nothing left but the fence counter
    expect(await keysOf(key)).toEqual([lockKeys('baton', key).fence])
  })

  it('does not starve a writer (R2): readers behind a waiting writer wait, and are granted in arrival order', async () => {
    const [a, b] = [await pool.connect(server.url), await pool.connect(server.url)]
    const key = uniqueKey('r2')
    const { queue } = lockKeys('baton', key)
    const r1 = granted(await a.acquire(shared(key)))
    const writer = b.acquire(driverRequest(key, { waitMs: 20_000 }))
    await queued(queue, 1)
    // a new reader does not jump the waiting writer
    expect(await a.acquire(shared(key))).toBeNull()
    const r2 = a.acquire(shared(key, { waitMs: 20_000 }))
    await queued(queue, 2)
    const r3 = b.acquire(shared(key, { waitMs: 20_000 }))
    await queued(queue, 3)
    const w2 = a.acquire(driverRequest(key, { waitMs: 20_000 }))
    await queued(queue, 4)
    await a.release(r1)
    const w = granted(await writer) // handed over on the server, woken by PUBLISH
    expect(w.fence).toBe(2n)
    expect(await raw.llen(queue)).toBe(3)
    await b.release(w)
    // consecutive readers at the head are admitted together; the writer behind them waits
    const [g2, g3] = [granted(await r2), granted(await r3)]
    expect([g2.fence, g3.fence]).toEqual([3n, 4n])
    expect(await b.inspect(key)).toMatchObject({ mode: 'shared', holders: 2 })
    expect(await raw.llen(queue)).toBe(1)
    await a.release(g2)
    expect(await raw.llen(queue)).toBe(1) // one reader still holds
    await b.release(g3)
    const last = granted(await w2)
    expect(last.fence).toBe(5n)
    await a.release(last)
    expect(await keysOf(key)).toEqual([lockKeys('baton', key).fence])
  })

  it('a reader that gives up (timeout, abort) leaves nothing behind, and a writer that gives up lets readers behind it in (S4)', async () => {
    const [a, b] = [await pool.connect(server.url), await pool.connect(server.url)]
    const key = uniqueKey('s4')
    const { queue } = lockKeys('baton', key)
    const w = granted(await a.acquire(driverRequest(key)))
    expect(await b.acquire(shared(key, { waitMs: 200 }))).toBeNull()
    const controller = new AbortController()
    const aborted = b.acquire(shared(key, { waitMs: 20_000, signal: controller.signal }))
    await queued(queue, 1)
    controller.abort()
    expect(await aborted).toBeNull()
    await queued(queue, 0)
    await a.release(w)
    expect(await keysOf(key)).toEqual([lockKeys('baton', key).fence])

    // reader holds; a writer waits, a reader queues behind it; the writer gives up
    const r1 = granted(await a.acquire(shared(key)))
    const wc = new AbortController()
    const writer = b.acquire(driverRequest(key, { waitMs: 20_000, signal: wc.signal }))
    await queued(queue, 1)
    const r2 = a.acquire(shared(key, { waitMs: 20_000 }))
    await queued(queue, 2)
    wc.abort()
    expect(await writer).toBeNull()
    const g2 = granted(await r2) // the writer's leave admitted the reader behind it
    expect(await a.inspect(key)).toMatchObject({ mode: 'shared', holders: 2 })
    await a.release(r1)
    await a.release(g2)
    expect(await keysOf(key)).toEqual([lockKeys('baton', key).fence])
  })

  it('expires each reader on its own: a non-renewing reader drops out while a renewing one stays', async () => {
    const d = await pool.connect(server.url)
    const key = uniqueKey('reader-ttl')
    const stale = granted(await d.acquire(shared(key, { ttlMs: 300 })))
    const live = granted(await d.acquire(shared(key, { ttlMs: 300 })))
    for (let i = 0; i < 4; i++) {
      await new Promise((r) => setTimeout(r, 150))
      expect(await d.renew(live, 300)).toEqual({ ok: true, ttlMs: 300 })
    }
    expect(await d.renew(stale, 300)).toEqual({ ok: false })
    expect(stale.lost.aborted).toBe(true)
    expect(live.lost.aborted).toBe(false)
    expect(await d.inspect(key)).toMatchObject({ mode: 'shared', holders: 1, owner: live.owner })
    expect(await d.acquire(driverRequest(key))).toBeNull()
    // once the last reader stops renewing, everything but the fence expires by itself (H1)
    await expect
      .poll(() => keysOf(key), { timeout: 5_000, interval: 50 })
      .toEqual([lockKeys('baton', key).fence])
    granted(await d.acquire(driverRequest(key)))
  })

  it('a reader whose lock key was deleted (an operator, eviction) fails its renewal and is lost, while a writer took the key', async () => {
    const d = await pool.connect(server.url)
    const key = uniqueKey('reader-dropped')
    const r = granted(await d.acquire(shared(key)))
    await raw.del(lockKeys('baton', key).lock)
    const w = granted(await d.acquire(driverRequest(key)))
    expect(w.fence).toBeGreaterThan(r.fence)
    expect(await d.renew(r, 5_000)).toEqual({ ok: false })
    expect(r.lost.aborted).toBe(true)
    expect(await d.release(r)).toBe(false)
    expect(await d.inspect(key)).toMatchObject({ mode: 'exclusive', owner: w.owner })
    await d.release(w)
  })

  it('list() reports shared holds with their mode and readers; forceRelease frees every reader and hands on', async () => {
    const d = await pool.connect(server.url)
    const base = uniqueKey('list-modes')
    const r1 = granted(await d.acquire(shared(`${base}:r`)))
    granted(await d.acquire(shared(`${base}:r`)))
    const x = granted(await d.acquire(driverRequest(`${base}:x`, { value: 'v1' })))
    const listed = await d.list(base)
    expect(listed).toMatchObject([
      { key: `${base}:r`, mode: 'shared', holders: 2 },
      { key: `${base}:x`, mode: 'exclusive', owner: x.owner, value: 'v1' },
    ])
    const writer = d.acquire(driverRequest(`${base}:r`, { waitMs: 20_000 }))
    await queued(lockKeys('baton', `${base}:r`).queue, 1)
    expect(await d.forceRelease(`${base}:r`)).toBe(true)
    const w = granted(await writer)
    expect(w.fence).toBe(3n)
    expect(await d.renew(r1, 5_000)).toEqual({ ok: false })
    await d.release(w)
    await d.release(x)
  })

  it('renewMany renews exclusive, shared and semaphore leases in one call, in order', async () => {
    const d = await pool.connect(server.url)
    const k = uniqueKey('mixed')
    const leases = [
      granted(await d.acquire(driverRequest(`${k}:x`))),
      granted(await d.acquire(shared(`${k}:s`))),
      granted(await d.acquire(permit(`${k}:m`, 2))),
      granted(await d.acquire(driverRequest(`${k}:y`))),
    ]
    await raw.del(lockKeys('baton', `${k}:y`).lock)
    await raw.zrem(lockKeys('baton', `${k}:s`).readers, (leases[1] as DriverLease).owner)
    expect((await d.renewMany(leases, 9_000)).map((r) => r.ok)).toEqual([true, false, true, false])
    const pttl = await raw.pttl(semaphoreKeys('baton', `${k}:m`).holders)
    expect(pttl).toBeGreaterThan(5_000)
  })
})

describe('semaphores', () => {
  it('admits at most `limit` holders across drivers and is a resource apart from the lock of the same key', async () => {
    const drivers = [await pool.connect(server.url), await pool.connect(server.url)]
    const key = uniqueKey('sem')
    const results = await Promise.all(
      Array.from({ length: 8 }, async (_, i) => {
        const d = drivers[i % 2] as RedisDriver
        return { d, lease: await d.acquire(permit(key, 3)) }
      }),
    )
    const held = results.flatMap(({ d, lease }) => (lease === null ? [] : [{ d, lease }]))
    expect(held).toHaveLength(3)
    expect(new Set(held.map((h) => h.lease.fence)).size).toBe(3)
    expect(await drivers[0]?.inspect(key, 'semaphore')).toMatchObject({
      held: true,
      mode: 'semaphore',
      holders: 3,
      limit: 3,
    })
    // semaphore 'k' never blocks lock 'k' (and the lock does not show the permits)
    const lock = granted((await drivers[1]?.acquire(driverRequest(key))) ?? null)
    expect(await drivers[1]?.inspect(key)).toMatchObject({ mode: 'exclusive', holders: 1 })
    await drivers[1]?.release(lock)
    for (const { d, lease } of held) expect(await d.release(lease)).toBe(true)
    expect(await drivers[0]?.inspect(key, 'semaphore')).toBeNull()
    expect(await keysOf(key)).toEqual(
      [lockKeys('baton', key).fence, semaphoreKeys('baton', key).fence].sort(),
    )
  })

  it('throws LockLimitMismatchError when the holders use another limit', async () => {
    const d = await pool.connect(server.url)
    const key = uniqueKey('mismatch')
    const h = granted(await d.acquire(permit(key, 2)))
    const err = await d.acquire(permit(key, 3, { waitMs: 5_000 })).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(LockLimitMismatchError)
    expect(err).toMatchObject({ limit: 3, heldLimit: 2, code: 'LOCK_LIMIT_MISMATCH' })
    await d.release(h)
    // once nobody holds it, another limit is fine
    const again = granted(await d.acquire(permit(key, 3)))
    expect(again.fence).toBe(2n)
    await d.release(again)
  })

  it('hands permits to waiters in arrival order with push wake-ups; a waiter that gives up leaves nothing held (S4)', async () => {
    const [a, b] = [await pool.connect(server.url), await pool.connect(server.url)]
    const key = uniqueKey('sem-wait')
    const { queue } = semaphoreKeys('baton', key)
    const h1 = granted(await a.acquire(permit(key, 2)))
    const h2 = granted(await b.acquire(permit(key, 2)))
    const w1 = b.acquire(permit(key, 2, { waitMs: 20_000 }))
    await queued(queue, 1)
    const controller = new AbortController()
    const gaveUp = a.acquire(permit(key, 2, { waitMs: 20_000, signal: controller.signal }))
    await queued(queue, 2)
    const w3 = a.acquire(permit(key, 2, { waitMs: 20_000 }))
    await queued(queue, 3)
    expect(await a.acquire(permit(key, 2))).toBeNull() // no jumping the queue
    controller.abort()
    expect(await gaveUp).toBeNull()
    await queued(queue, 2)
    await a.release(h1)
    const g1 = granted(await w1)
    expect(g1.fence).toBe(3n)
    await b.release(h2)
    const g3 = granted(await w3)
    expect(g3.fence).toBe(4n)
    expect(await a.inspect(key, 'semaphore')).toMatchObject({ holders: 2, limit: 2 })
    await b.release(g1)
    await a.release(g3)
    expect(await keysOf(key)).toEqual([semaphoreKeys('baton', key).fence])
  })

  it('expires each permit on its own: a non-renewing holder frees its permit while the others stay', async () => {
    const d = await pool.connect(server.url)
    const key = uniqueKey('sem-ttl')
    const stale = granted(await d.acquire(permit(key, 2, { ttlMs: 300 })))
    const live = granted(await d.acquire(permit(key, 2, { ttlMs: 300 })))
    // a waiter is granted the stale permit once it expires (the backstop: first expiry)
    const waiter = d.acquire(permit(key, 2, { waitMs: 20_000 }))
    for (let i = 0; i < 4; i++) {
      await new Promise((r) => setTimeout(r, 150))
      expect((await d.renew(live, 300)).ok).toBe(true)
    }
    const w = granted(await waiter)
    expect(w.fence).toBe(3n)
    expect(await d.renew(stale, 300)).toEqual({ ok: false })
    expect((await d.renew(live, 300)).ok).toBe(true)
    expect(await d.inspect(key, 'semaphore')).toMatchObject({ holders: 2, limit: 2 })
    expect(await d.acquire(permit(key, 2))).toBeNull()
    await d.release(w)
    await d.release(live)
    expect(await keysOf(key)).toEqual([semaphoreKeys('baton', key).fence])
  })
})

describe('election values', () => {
  it('stores the value with the exclusive grant, also when handed over, and inspect returns it', async () => {
    const [a, b] = [await pool.connect(server.url), await pool.connect(server.url)]
    const key = uniqueKey('elect')
    const first = granted(await a.acquire(driverRequest(key, { value: 'host-a:8080' })))
    expect(await b.inspect(key)).toMatchObject({ owner: first.owner, value: 'host-a:8080' })
    const next = b.acquire(driverRequest(key, { waitMs: 20_000, value: 'host-b:9090 {ü}' }))
    await queued(lockKeys('baton', key).queue, 1)
    await a.release(first)
    const second = granted(await next)
    expect(await a.inspect(key)).toMatchObject({ owner: second.owner, value: 'host-b:9090 {ü}' })
    await b.release(second)
    // a holder without a value shows none (not the last leader's)
    const plain = granted(await a.acquire(driverRequest(key)))
    const info = await a.inspect(key)
    expect(info?.owner).toBe(plain.owner)
    expect(info?.value).toBeUndefined()
    await a.release(plain)
  })
})
