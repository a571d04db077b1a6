import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { DriverLease } from '@baton-lock/core'
import { driverRequest } from '@baton-lock/core/driver'
import { SqliteDriver } from '@baton-lock/sqlite'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { TEST_BINDINGS } from './bindings.js'
import { rawStatement } from './raw-sql.js'

// Arrival order across modes and per-permit expiry, at the moment a lease frees up. The
// driver's grants are synchronous statements, so a request made in the same tick as a
// release runs before the woken waiter can: it must still not jump the queue.
const dir = mkdtempSync(join(tmpdir(), 'baton-sqlite-order-'))
const drivers: SqliteDriver[] = []
let fileNo = 0

afterEach(async () => {
  for (const driver of drivers.splice(0)) await driver.close()
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const PUSH_ONLY = { pollMinMs: 600_000, pollMaxMs: 600_000, waiterTtlMs: 600_000 }

describe.each(TEST_BINDINGS)('queue order and expiry on %s', (binding) => {
  const file = () => join(dir, `order-${fileNo++}.db`)
  const open = (path: string) => {
    const driver = new SqliteDriver({ path, binding, ...PUSH_ONLY })
    drivers.push(driver)
    return driver
  }
  const shared = (key: string, o = {}) => driverRequest(key, { mode: 'shared', ...o })
  const permit = (key: string, limit: number, o = {}) =>
    driverRequest(key, { mode: 'semaphore', limit, ...o })
  const count = (path: string, sql: string) =>
    Number((rawStatement(path, binding, sql).get() as { n: number }).n)
  const tickets = (path: string) => count(path, 'SELECT count(*) AS n FROM baton_waiters')
  /** Tickets whose waiter listens for wake-ups (its driver's channel is up, it tried once and sleeps). */
  const listening = (path: string) =>
    count(path, 'SELECT count(*) AS n FROM baton_waiters WHERE wake IS NOT NULL')
  const granted = async (p: Promise<DriverLease | null>) => {
    const lease = await p
    expect(lease).not.toBeNull()
    return lease as DriverLease
  }
  it('R2: a queued reader goes before a writer that asks when the lock frees up', async () => {
    const path = file()
    const [a, b, c] = [open(path), open(path), open(path)]
    const w1 = await granted(a.acquire(driverRequest('k')))
    const reading = b.acquire(shared('k', { waitMs: 20_000 }))
    await expect.poll(() => tickets(path), { timeout: 10_000, interval: 5 }).toBe(1)
    const released = a.release(w1)
    const late = c.acquire(driverRequest('k')) // same tick: before b can try
    expect(await released).toBe(true)
    expect(await late).toBeNull()
    const r = await granted(reading)
    expect(r.fence).toBeGreaterThan(w1.fence)
    expect(await c.acquire(driverRequest('k'))).toBeNull()
    await b.release(r)
    expect(await granted(c.acquire(driverRequest('k')))).toMatchObject({ fence: r.fence + 1n })
  })

  it('a try counts only live permits: a permit past its TTL does not refuse it', async () => {
    const path = file()
    const [a, b] = [open(path), open(path)]
    const stale = await granted(a.acquire(permit('s', 1, { ttlMs: 200 })))
    await new Promise((resolve) => setTimeout(resolve, 400)) // twice its TTL
    expect(await a.renew(stale, 5_000)).toEqual({ ok: false }) // too late: it lapsed
    const next = await granted(b.acquire(permit('s', 1)))
    expect(next.fence).toBeGreaterThan(stale.fence)
    expect(await a.acquire(permit('s', 1))).toBeNull()
    // the stale permit is not renewed back beside the new one (M1)
    expect(await a.renew(stale, 5_000)).toEqual({ ok: false })
    expect(await b.inspect('s', 'semaphore')).toMatchObject({ holders: 1 })
    expect(await a.release(stale)).toBe(false)
    await b.release(next)
  })

  // Holders with long TTLs: a waiter not woken would sleep until they expire, past its wait.
  const LONG = { ttlMs: 120_000 }

  it('readers queued behind a writer are all admitted by push when it releases (each grant wakes the next reader)', async () => {
    const path = file()
    const [a, b, c] = [open(path), open(path), open(path)]
    const w = await granted(a.acquire(driverRequest('k', LONG)))
    const readers = [
      b.acquire(shared('k', { waitMs: 15_000 })),
      c.acquire(shared('k', { waitMs: 15_000 })),
    ]
    await expect.poll(() => listening(path), { timeout: 10_000, interval: 5 }).toBe(2)
    expect(await a.release(w)).toBe(true)
    const [r1, r2] = [
      await granted(readers[0] as Promise<DriverLease | null>),
      await granted(readers[1] as Promise<DriverLease | null>),
    ]
    expect(await a.inspect('k')).toMatchObject({ mode: 'shared', holders: 2 })
    await b.release(r1)
    await c.release(r2)
  }, 30_000)

  it('permits freed in one tick all go to the waiters by push (each grant wakes the next waiter)', async () => {
    const path = file()
    const [a, b, c] = [open(path), open(path), open(path)]
    const held = [
      await granted(a.acquire(permit('s', 2, LONG))),
      await granted(a.acquire(permit('s', 2, LONG))),
    ]
    const waits = [
      b.acquire(permit('s', 2, { waitMs: 15_000 })),
      c.acquire(permit('s', 2, { waitMs: 15_000 })),
    ]
    await expect.poll(() => listening(path), { timeout: 10_000, interval: 5 }).toBe(2)
    const released = held.map((l) => a.release(l)) // both before either waiter runs
    expect(await Promise.all(released)).toEqual([true, true])
    const got = [
      await granted(waits[0] as Promise<DriverLease | null>),
      await granted(waits[1] as Promise<DriverLease | null>),
    ]
    expect(await a.inspect('s', 'semaphore')).toMatchObject({ holders: 2 })
    await b.release(got[0] as DriverLease)
    await c.release(got[1] as DriverLease)
  }, 30_000)
})
