import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { DriverLease } from '@baton-lock/core'
import { driverRequest } from '@baton-lock/core/driver'
import type { SqliteBinding } from '@baton-lock/sqlite'
import { SqliteDriver } from '@baton-lock/sqlite'
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest'
import { TEST_BINDINGS } from './bindings.js'

// Driver-level checks specific to SQLite, on every binding this Node has; the whole
// contract is in conformance.test.ts, the binding choice and its errors in binding.test.ts.
const dir = mkdtempSync(join(tmpdir(), 'baton-sqlite-'))
const drivers: SqliteDriver[] = []
let fileNo = 0
let binding: SqliteBinding = 'better-sqlite3'

function open(path = join(dir, `locks-${fileNo++}.db`)): SqliteDriver {
  const driver = new SqliteDriver({ path, binding })
  drivers.push(driver)
  return driver
}

afterEach(async () => {
  for (const driver of drivers.splice(0)) await driver.close()
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe.each(TEST_BINDINGS)('SqliteDriver on %s', (name) => {
  beforeEach(() => {
    binding = name
  })

  it('creates parent directories of the path', async () => {
    const path = join(dir, name, 'a', 'b', 'c', 'locks.db')
    const driver = open(path)
    expect(driver.binding).toBe(name)
    expect(existsSync(path)).toBe(true)
    expect(await driver.acquire(driverRequest('k', { waitMs: 0, ttlMs: 10_000 }))).not.toBeNull()
  })

  it('excludes a second connection on the same file and grants it after release', async () => {
    const a = open()
    const b = open(a.file)
    const lease = (await a.acquire(driverRequest('k', { waitMs: 0, ttlMs: 10_000 }))) as DriverLease
    expect(lease.fence).toBe(1n)
    expect(await b.acquire(driverRequest('k', { waitMs: 0, ttlMs: 10_000 }))).toBeNull()
    const waiting = b.acquire(driverRequest('k', { waitMs: 10_000, ttlMs: 10_000 }))
    expect(await a.release(lease)).toBe(true)
    const next = (await waiting) as DriverLease
    expect(next.fence).toBe(2n)
  })

  it('wakes a waiter in the same process at once on release, without waiting for its next poll', async () => {
    const a = open()
    const b = new SqliteDriver({ path: a.file, pollMaxMs: 60_000, binding })
    drivers.push(b)
    const lease = (await a.acquire(driverRequest('k', { waitMs: 0, ttlMs: 10_000 }))) as DriverLease
    const waiting = b.acquire(driverRequest('k', { waitMs: 120_000, ttlMs: 10_000 }))
    // Let the waiter's backoff grow well past what the check below allows.
    await new Promise((resolve) => setTimeout(resolve, 300))
    const releasedAtMs = performance.now()
    await a.release(lease)
    expect(await waiting).not.toBeNull()
    expect(performance.now() - releasedAtMs).toBeLessThan(1_000)
  })

  it('keeps fences increasing across release, expiry and reopening the file', async () => {
    const a = open()
    const first = (await a.acquire(driverRequest('k', { waitMs: 0, ttlMs: 10_000 }))) as DriverLease
    await a.release(first)
    await a.close()
    const b = open(a.file)
    const second = (await b.acquire(driverRequest('k', { waitMs: 0, ttlMs: 5 }))) as DriverLease
    expect(second.fence).toBe(first.fence + 1n)
    // Expiry: the 5 ms lease lapses without release and the next holder gets a higher fence.
    const third = (await b.acquire(
      driverRequest('k', { waitMs: 5_000, ttlMs: 10_000 }),
    )) as DriverLease
    expect(third.fence).toBe(second.fence + 1n)
    expect(await b.renew(second, 1_000)).toEqual({ ok: false })
    expect(await b.release(second)).toBe(false)
  })

  it('renews only its own lease, and reports what inspect and list see', async () => {
    const a = open()
    const lease = (await a.acquire(
      driverRequest('ns:k', { waitMs: 0, ttlMs: 1_000 }),
    )) as DriverLease
    expect(await a.renew(lease, 60_000)).toEqual({ ok: true, ttlMs: 60_000 })
    expect(await a.renew({ ...lease, owner: 'f'.repeat(32) }, 60_000)).toEqual({ ok: false })
    const info = await a.inspect('ns:k')
    expect(info).toMatchObject({ held: true, fence: lease.fence, owner: lease.owner })
    expect(info?.ttlRemainingMs).toBeGreaterThan(50_000)
    expect(await a.list('ns:')).toEqual([expect.objectContaining({ key: 'ns:k', held: true })])
    expect(await a.list('other:')).toEqual([])
    expect(await a.renewMany([lease, { ...lease, owner: '0'.repeat(32) }], 30_000)).toEqual([
      { ok: true, ttlMs: 30_000 },
      { ok: false },
    ])
    expect(await a.forceRelease('ns:k')).toBe(true)
    expect(await a.forceRelease('ns:k')).toBe(false)
    expect(await a.inspect('ns:k')).toBeNull()
    expect(await a.renew(lease, 1_000)).toEqual({ ok: false })
  })

  it('stops waiting when the signal aborts or the driver closes, leaving nothing held', async () => {
    const a = open()
    const b = open(a.file)
    await a.acquire(driverRequest('k', { waitMs: 0, ttlMs: 10_000 }))
    const controller = new AbortController()
    const aborted = b.acquire({
      ...driverRequest('k', { waitMs: 60_000, ttlMs: 10_000 }),
      signal: controller.signal,
    })
    controller.abort()
    expect(await aborted).toBeNull()
    const closing = b.acquire(driverRequest('k', { waitMs: 60_000, ttlMs: 10_000 }))
    await b.close()
    expect(await closing).toBeNull()
    expect((await a.inspect('k'))?.held).toBe(true)
  })

  it('deletes the rows of leases still held when closed (nothing left behind)', async () => {
    const a = open()
    const b = open(a.file)
    await a.acquire(driverRequest('k1', { waitMs: 0, ttlMs: 10_000 }))
    await a.acquire(driverRequest('k2', { waitMs: 0, ttlMs: 10_000 }))
    await a.close()
    expect(await b.list('')).toEqual([])
  })

  it('keeps keys case-sensitive and Unicode-exact', async () => {
    const a = open()
    const keys = ['Key', 'key', 'KEY', 'clé', 'cle\u0301', '鍵🔒', 'x'.repeat(1024)]
    for (const key of keys)
      expect(await a.acquire(driverRequest(key, { waitMs: 0, ttlMs: 10_000 }))).not.toBeNull()
    expect((await a.list('')).map((row) => row.key).sort()).toEqual([...keys].sort())
  })
})
