import type { DriverLease } from '@baton-lock/core'
import { isLockError, Locker } from '@baton-lock/core'
import { driverRequest, uniqueKey } from '@baton-lock/core/driver'
import { startMariadb } from '@baton-lock/test-matrix'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { lockName, MysqlDriver, semaphoreNames } from '../src/index.js'
import { rawConnection, sql, until } from './driver-helpers.js'

// Semaphores as `limit` GET_LOCK names, on a real MariaDB, with separate drivers (separate
// sessions) and many permits of one semaphore on one driver (GET_LOCK re-enters within a
// session: the driver must never hand one slot out twice).
let server: Awaited<ReturnType<typeof startMariadb>>
let admin: Awaited<ReturnType<typeof rawConnection>>
const drivers: MysqlDriver[] = []

beforeAll(async () => {
  server = await startMariadb()
  admin = await rawConnection(server.url)
}, 240_000)
afterEach(async () => {
  for (const d of drivers.splice(0)) await d.close()
})
afterAll(async () => {
  admin?.destroy()
  await server?.stop()
})

function open(): MysqlDriver {
  const driver = new MysqlDriver({ url: server.url })
  drivers.push(driver)
  return driver
}
const permit = (key: string, limit: number, o = {}) =>
  driverRequest(key, { mode: 'semaphore', limit, ttlMs: 10_000, ...o })
async function granted(p: Promise<DriverLease | null>): Promise<DriverLease> {
  const lease = await p
  expect(lease).not.toBeNull()
  return lease as DriverLease
}
/** Slots 0..count-1 of `key` held by any connection, read by an outside client. */
async function slotsHeld(key: string, count: number): Promise<number> {
  const names = semaphoreNames(key)
  let held = 0
  for (let i = 0; i < count; i++) {
    const [row] = await sql(admin, 'SELECT IS_USED_LOCK(?) AS id', [names.slot(i)])
    if (row?.id != null) held++
  }
  return held
}

describe('MySQL semaphores', () => {
  it('at most limit permits across drivers and within one driver; fences increase per semaphore key', async () => {
    const key = uniqueKey('sem')
    const [a, b, c] = [open(), open(), open()]
    const p1 = await granted(a.acquire(permit(key, 3)))
    // two more from ONE driver: each on a session that holds no slot of this semaphore
    const [p2, p3] = await Promise.all([b.acquire(permit(key, 3)), b.acquire(permit(key, 3))])
    expect(p2).not.toBeNull()
    expect(p3).not.toBeNull()
    expect(await b.acquire(permit(key, 3))).toBeNull()
    expect(await c.acquire(permit(key, 3))).toBeNull()
    expect(await a.acquire(permit(key, 3))).toBeNull()
    expect(await slotsHeld(key, 3)).toBe(3)
    const fences = [p1, p2, p3].map((l) => (l as DriverLease).fence).sort()
    expect(new Set(fences).size).toBe(3)
    expect(await c.inspect(key, 'semaphore')).toMatchObject({
      held: true,
      mode: 'semaphore',
      holders: 3,
      limit: 3,
    })
    expect(await b.release(p2 as DriverLease)).toBe(true)
    const p4 = await granted(c.acquire(permit(key, 3)))
    expect(p4.fence).toBeGreaterThan(fences[2] as bigint)
    for (const [d, l] of [
      [a, p1],
      [b, p3],
      [c, p4],
    ] as const)
      expect(await d.release(l as DriverLease)).toBe(true)
    expect(await a.inspect(key, 'semaphore')).toBeNull()
    expect(await slotsHeld(key, 3)).toBe(0)
  })

  it('a semaphore is apart from the lock of the same key', async () => {
    const key = uniqueKey('apart')
    const [a, b] = [open(), open()]
    const lock = await granted(a.acquire(driverRequest(key, { ttlMs: 10_000 })))
    const p = await granted(b.acquire(permit(key, 1)))
    expect(await b.acquire(driverRequest(key))).toBeNull()
    expect(await a.inspect(key)).toMatchObject({ held: true, owner: lock.owner, mode: 'exclusive' })
    const [row] = await sql(admin, 'SELECT IS_USED_LOCK(?) AS id', [lockName(key)])
    expect(row?.id).not.toBeNull()
    expect(await a.release(lock)).toBe(true)
    expect(await b.inspect(key)).toBeNull()
    expect(await b.inspect(key, 'semaphore')).toMatchObject({ holders: 1, limit: 1 })
    expect(await b.release(p)).toBe(true)
  })

  it('a waiter is granted when a permit frees up (limit 1: server-side wait; limit 3: any slot)', async () => {
    for (const limit of [1, 3]) {
      const key = uniqueKey(`wait${limit}`)
      const [a, b] = [open(), open()]
      const held = []
      for (let i = 0; i < limit; i++) held.push(await granted(a.acquire(permit(key, limit))))
      const waiting = b.acquire(permit(key, limit, { waitMs: 30_000 }))
      await new Promise((r) => setTimeout(r, 100))
      // free the LAST permit taken: the waiter may be watching another slot
      expect(await a.release(held.pop() as DriverLease)).toBe(true)
      const got = await granted(waiting)
      expect(await slotsHeld(key, limit)).toBe(limit)
      for (const l of held) expect(await a.release(l)).toBe(true)
      expect(await b.release(got)).toBe(true)
      expect(await slotsHeld(key, limit)).toBe(0)
    }
  })

  it('M1: 4 drivers x 10 permits of a limit-2 semaphore, never more than 2 held at once', async () => {
    const key = uniqueKey('m1')
    let inside = 0
    let most = 0
    const fences: bigint[] = []
    await Promise.all(
      [open(), open(), open(), open()].map(async (d) => {
        for (let i = 0; i < 10; i++) {
          const lease = await granted(d.acquire(permit(key, 2, { waitMs: 60_000 })))
          inside++
          most = Math.max(most, inside)
          fences.push(lease.fence)
          await new Promise((r) => setTimeout(r, 2))
          inside--
          expect(await d.release(lease)).toBe(true)
        }
      }),
    )
    expect(most).toBeLessThanOrEqual(2)
    expect(new Set(fences).size).toBe(40)
    expect(await slotsHeld(key, 2)).toBe(0)
  }, 120_000)

  it('another limit than the holders use: LockLimitMismatchError; once they are gone the new limit stands', async () => {
    const key = uniqueKey('mismatch')
    const [a, b] = [open(), open()]
    const held = await granted(a.acquire(permit(key, 2)))
    await expect(b.acquire(permit(key, 3))).rejects.toMatchObject({
      code: 'LOCK_LIMIT_MISMATCH',
      limit: 3,
      heldLimit: 2,
    })
    await expect(b.acquire(permit(key, 1))).rejects.toMatchObject({
      code: 'LOCK_LIMIT_MISMATCH',
      limit: 1,
      heldLimit: 2,
    })
    const locker = new Locker(open())
    try {
      const err = await locker
        .semaphore(key, { limit: 5 })
        .acquire({ waitMs: 1_000 })
        .catch((e: unknown) => e)
      expect(isLockError(err, 'LOCK_LIMIT_MISMATCH')).toBe(true)
    } finally {
      await locker.close()
    }
    expect(await slotsHeld(key, 5)).toBe(1)
    expect(await a.release(held)).toBe(true)
    const next = await granted(b.acquire(permit(key, 3)))
    expect(next.fence).toBeGreaterThan(held.fence)
    expect(await b.inspect(key, 'semaphore')).toMatchObject({ holders: 1, limit: 3 })
    expect(await b.release(next)).toBe(true)
  })

  it('S4/H1: timed-out and aborted waits leave no slot held; close() frees every permit and session', async () => {
    const key = uniqueKey('s4')
    const [a, b] = [open(), open()]
    const held = [
      await granted(a.acquire(permit(key, 2))),
      await granted(a.acquire(permit(key, 2))),
    ]
    expect(await b.acquire(permit(key, 2, { waitMs: 300 }))).toBeNull()
    const abort = new AbortController()
    const pending = b.acquire(permit(key, 2, { waitMs: 60_000, signal: abort.signal }))
    await new Promise((r) => setTimeout(r, 100))
    abort.abort()
    expect(await pending).toBeNull()
    expect(await slotsHeld(key, 2)).toBe(2)
    await a.close()
    expect(held.every((l) => l.lost.aborted)).toBe(true)
    await until(async () => (await slotsHeld(key, 2)) === 0)
    expect(a.sessionCount).toBe(0)
    // nothing of b's is held either: both permits are free for a third driver
    const c = open()
    const got = [await granted(c.acquire(permit(key, 2))), await granted(c.acquire(permit(key, 2)))]
    for (const l of got) expect(await c.release(l)).toBe(true)
  })

  it('renewMany confirms permits and locks of one driver together', async () => {
    const key = uniqueKey('renew')
    const a = open()
    const p = await granted(a.acquire(permit(key, 2)))
    const l = await granted(a.acquire(driverRequest(key, { ttlMs: 10_000 })))
    expect((await a.renewMany([p, l], 10_000)).map((r) => r.ok)).toEqual([true, true])
    expect(await a.release(p)).toBe(true)
    expect(await a.release(l)).toBe(true)
    expect((await a.renew(p, 10_000)).ok).toBe(false)
  })
})
