import type { AcquireRequest, DriverLease } from '@baton-lock/core'
import { driverRequest, uniqueKey } from '@baton-lock/core/driver'
import { lockKeys } from '@baton-lock/redis'
import { type ServerHandle, startRedis } from '@baton-lock/test-matrix'
import { Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { defineScripts } from '../src/scripts.js'
import { DriverPool } from './helpers.js'

// A holder that lost its lease (its TTL ran out, or an operator or eviction deleted the lock
// key) and a writer that took the key since: whatever the stale holder sends afterwards
// (release, a waiter's give-up) must leave the writer's lock alone, and must not let readers
// in beside it (R1). The mutex has compare-and-delete for this; these are the shared paths.

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

function granted(lease: DriverLease | null): DriverLease {
  expect(lease).not.toBeNull()
  return lease as DriverLease
}

/** The writer `w` still holds `key` alone: inspect names it, and neither a reader nor a writer gets in. */
async function writerHoldsAlone(
  d: {
    inspect: (k: string) => Promise<unknown>
    acquire: (r: AcquireRequest) => Promise<DriverLease | null>
  },
  key: string,
  w: DriverLease,
): Promise<void> {
  expect(await d.inspect(key)).toMatchObject({ mode: 'exclusive', owner: w.owner })
  expect(await d.acquire(shared(key))).toBeNull()
  expect(await d.acquire(driverRequest(key))).toBeNull()
}

describe('stale shared holders never disturb a writer that took the key since', () => {
  it('a reader whose TTL ran out: its release is false and frees nothing', async () => {
    const [d, e] = [await pool.connect(server.url), await pool.connect(server.url)]
    const key = uniqueKey('stale-expired-reader')
    const r = granted(await d.acquire(shared(key, { ttlMs: 200 })))
    const w = granted(await e.acquire(driverRequest(key, { waitMs: 10_000 })))
    expect(w.fence).toBeGreaterThan(r.fence)
    expect(await d.release(r)).toBe(false)
    await writerHoldsAlone(e, key, w)
    expect(await e.release(w)).toBe(true)
  })

  it('the only reader, its lock key deleted, a writer took it: its release frees nothing', async () => {
    const [d, e] = [await pool.connect(server.url), await pool.connect(server.url)]
    const key = uniqueKey('stale-dropped-reader')
    const r = granted(await d.acquire(shared(key)))
    await raw.del(lockKeys('baton', key).lock)
    const w = granted(await e.acquire(driverRequest(key)))
    const released = await d.release(r)
    await writerHoldsAlone(e, key, w)
    expect(await e.renew(w, 5_000)).toMatchObject({ ok: true })
    expect(released).toBe(false) // its share was gone with the key
  })

  it('two readers, their lock key deleted, a writer took it: a release of one does not bring the readers back', async () => {
    const [d, e] = [await pool.connect(server.url), await pool.connect(server.url)]
    const key = uniqueKey('stale-dropped-readers')
    const r1 = granted(await d.acquire(shared(key)))
    const r2 = granted(await d.acquire(shared(key)))
    await raw.del(lockKeys('baton', key).lock)
    const w = granted(await e.acquire(driverRequest(key)))
    const released = await d.release(r1)
    await writerHoldsAlone(e, key, w)
    expect(await e.renew(w, 5_000)).toMatchObject({ ok: true })
    expect(await d.renew(r2, 5_000)).toEqual({ ok: false })
    expect(released).toBe(false)
  })

  it('a reader waiting behind the writer that was handed a share it never saw, then the key deleted: its give-up frees nothing', async () => {
    const [d, e] = [await pool.connect(server.url), await pool.connect(server.url)]
    const key = uniqueKey('stale-leave')
    const keys = lockKeys('baton', key)
    const w0 = granted(await e.acquire(driverRequest(key)))
    const controller = new AbortController()
    const readers: [Promise<DriverLease | null>, Promise<DriverLease | null>] = [
      d.acquire(shared(key, { waitMs: 20_000 })),
      d.acquire(shared(key, { waitMs: 20_000, signal: controller.signal })),
    ]
    await expect.poll(() => raw.llen(keys.queue), { timeout: 10_000, interval: 5 }).toBe(2)
    expect(await e.release(w0)).toBe(true)
    const first = granted(await readers[0])
    // the second was admitted with the first; whether it saw it or not, after the key is
    // deleted and a writer took it, its reply (a lease or a give-up) must not touch the writer
    await raw.del(keys.lock)
    const w = granted(await e.acquire(driverRequest(key)))
    controller.abort()
    const second = await readers[1]
    const released = [await d.release(first), second === null ? false : await d.release(second)]
    await writerHoldsAlone(e, key, w)
    expect(released).toEqual([false, false])
  })

  it('a give-up (the leave script) of a reader whose share went with the deleted key leaves the writer alone', async () => {
    const [d, e] = [await pool.connect(server.url), await pool.connect(server.url)]
    const key = uniqueKey('stale-leave-script')
    const keys = lockKeys('baton', key)
    const r1 = granted(await d.acquire(shared(key)))
    granted(await d.acquire(shared(key)))
    await raw.del(keys.lock)
    const w = granted(await e.acquire(driverRequest(key)))
    // what a reader sends when it gives up after the share was handed to it unseen
    const scripted = defineScripts(raw)
    const { lock, fence, queue, waiters, readers, owners, channel } = keys
    const left = await scripted.batonLeave(
      lock,
      fence,
      queue,
      waiters,
      readers,
      owners,
      r1.owner,
      channel,
      `${r1.owner}:s`,
    )
    await writerHoldsAlone(e, key, w)
    expect(left).toBe(0)
  })

  it('a waiter whose share went with the deleted key, asking again (the acquire script), waits for the writer', async () => {
    const [d, e] = [await pool.connect(server.url), await pool.connect(server.url)]
    const key = uniqueKey('stale-refresh-script')
    const keys = lockKeys('baton', key)
    const r1 = granted(await d.acquire(shared(key)))
    await raw.del(keys.lock)
    const w = granted(await e.acquire(driverRequest(key)))
    // what a queued reader sends on its next round when the share was handed to it unseen
    const scripted = defineScripts(raw)
    const { lock, fence, queue, waiters, readers, owners, channel } = keys
    const [code] = await scripted.batonAcquireShared(
      lock,
      fence,
      queue,
      waiters,
      readers,
      owners,
      r1.owner,
      5_000,
      key,
      1,
      channel,
    )
    await writerHoldsAlone(e, key, w)
    expect(code).toBe(0)
  })

  it('a reader lost with the deleted key stays lost when the writer since hands the lock to new readers', async () => {
    const [d, e] = [await pool.connect(server.url), await pool.connect(server.url)]
    const key = uniqueKey('stale-not-resurrected')
    const keys = lockKeys('baton', key)
    const r1 = granted(await d.acquire(shared(key)))
    await raw.del(keys.lock)
    const w = granted(await e.acquire(driverRequest(key)))
    const next = e.acquire(shared(key, { waitMs: 20_000 }))
    await expect.poll(() => raw.llen(keys.queue), { timeout: 10_000, interval: 5 }).toBe(1)
    expect(await e.release(w)).toBe(true)
    const r2 = granted(await next)
    expect(await e.inspect(key)).toMatchObject({ mode: 'shared', holders: 1, owner: r2.owner })
    expect(await d.renew(r1, 5_000)).toEqual({ ok: false })
    await e.release(r2)
  })

  it('a reader lost with the deleted key stays lost when a queued writer takes the key and hands it to a queued reader', async () => {
    const [d, e] = [await pool.connect(server.url), await pool.connect(server.url)]
    const key = uniqueKey('stale-not-resurrected-queue')
    const keys = lockKeys('baton', key)
    const r1 = granted(await d.acquire(shared(key)))
    const writer = e.acquire(driverRequest(key, { waitMs: 20_000 }))
    await expect.poll(() => raw.llen(keys.queue), { timeout: 10_000, interval: 5 }).toBe(1)
    const reader = e.acquire(shared(key, { waitMs: 20_000 }))
    await expect.poll(() => raw.llen(keys.queue), { timeout: 10_000, interval: 5 }).toBe(2)
    await raw.del(keys.lock)
    // another writer's try hands the free key to the queued writer
    expect(await d.acquire(driverRequest(key))).toBeNull()
    const w = granted(await writer)
    expect(await e.release(w)).toBe(true)
    const r2 = granted(await reader)
    expect(await e.inspect(key)).toMatchObject({ mode: 'shared', holders: 1, owner: r2.owner })
    expect(await d.renew(r1, 5_000)).toEqual({ ok: false })
    await e.release(r2)
  })
})
