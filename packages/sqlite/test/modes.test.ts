import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type DriverLease, isLockError, Locker } from '@baton-lock/core'
import { driverRequest } from '@baton-lock/core/driver'
import { SqliteDriver } from '@baton-lock/sqlite'
import { ensureBuilt } from '@baton-lock/test-matrix'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { TEST_BINDINGS } from './bindings.js'
import { rawStatement } from './raw-sql.js'

// Shared locks, semaphores and election values on real files, across drivers (separate
// connections) and processes. Waiters here poll only every ~200 s (waiterTtlMs 600 s), so
// a grant that comes in time came by push: the release's wake-up or the cascade that
// admits the readers at the head of the queue together.
const dir = mkdtempSync(join(tmpdir(), 'baton-sqlite-modes-'))
const drivers: SqliteDriver[] = []
const children: ChildProcess[] = []
let fileNo = 0

beforeAll(() => ensureBuilt(['packages/core', 'packages/sqlite']), 180_000)
afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL')
  for (const driver of drivers.splice(0)) await driver.close()
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const PUSH_ONLY = { pollMinMs: 600_000, pollMaxMs: 600_000, waiterTtlMs: 600_000 }
const TABLES = ['baton_leases', 'baton_shared', 'baton_permits', 'baton_waiters', 'baton_values']

describe.each(TEST_BINDINGS)('shared locks and semaphores on %s', (binding) => {
  const file = () => join(dir, `modes-${fileNo++}.db`)
  const open = (path: string, options: Partial<typeof PUSH_ONLY> = PUSH_ONLY) => {
    const driver = new SqliteDriver({ path, binding, ...options })
    drivers.push(driver)
    return driver
  }
  const rows = (path: string, table: string) =>
    Number(
      (rawStatement(path, binding, `SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n,
    )
  const leftovers = (path: string) => TABLES.filter((table) => rows(path, table) > 0)
  const shared = (key: string, o = {}) => driverRequest(key, { mode: 'shared', ...o })
  const permit = (key: string, limit: number, o = {}) =>
    driverRequest(key, { mode: 'semaphore', limit, ...o })
  const granted = async (p: Promise<DriverLease | null>) => {
    const lease = await p
    expect(lease).not.toBeNull()
    return lease as DriverLease
  }

  it('readers hold together across drivers, never beside a writer; fences increase across modes (F1)', async () => {
    const path = file()
    const [a, b, c] = [open(path), open(path), open(path)]
    const w = await granted(a.acquire(driverRequest('k')))
    expect(await b.acquire(shared('k'))).toBeNull()
    expect(await a.release(w)).toBe(true)
    const r1 = await granted(b.acquire(shared('k')))
    const r2 = await granted(c.acquire(shared('k')))
    const r3 = await granted(b.acquire(shared('k')))
    expect([r1.fence, r2.fence, r3.fence]).toEqual([w.fence + 1n, w.fence + 2n, w.fence + 3n])
    expect(await a.inspect('k')).toMatchObject({
      held: true,
      mode: 'shared',
      holders: 3,
      fence: r3.fence,
      owner: r1.owner,
    })
    expect(await a.acquire(driverRequest('k'))).toBeNull()
    for (const [d, r] of [
      [b, r1],
      [c, r2],
      [b, r3],
    ] as const)
      expect(await d.release(r)).toBe(true)
    const w2 = await granted(a.acquire(driverRequest('k')))
    expect(w2.fence).toBe(r3.fence + 1n)
    expect(await c.inspect('k')).toMatchObject({ mode: 'exclusive', holders: 1, owner: w2.owner })
    expect(await a.release(w2)).toBe(true)
    expect(await a.inspect('k')).toBeNull()
    expect(leftovers(path)).toEqual([])
  })

  it('R2: a waiting writer holds back later readers; the readers at the head are admitted together by push', async () => {
    const path = file()
    const [a, b, c, d, e] = [open(path), open(path), open(path), open(path), open(path)]
    const r0 = await granted(a.acquire(shared('k')))
    const w1 = b.acquire(driverRequest('k', { waitMs: 60_000 }))
    // a writer waits: a new reader is refused, even with the key held only in shared mode
    expect(await c.acquire(shared('k'))).toBeNull()
    expect(await a.release(r0)).toBe(true)
    const writer = await granted(w1)
    // queue behind the writer: two readers, a writer, a reader, in this order
    const r1 = c.acquire(shared('k', { waitMs: 60_000 }))
    const r2 = d.acquire(shared('k', { waitMs: 60_000 }))
    const w2 = e.acquire(driverRequest('k', { waitMs: 60_000 }))
    const r3 = a.acquire(shared('k', { waitMs: 60_000 }))
    expect(rows(path, 'baton_waiters')).toBe(4)
    expect(await b.release(writer)).toBe(true)
    const [l1, l2] = [await granted(r1), await granted(r2)]
    expect(l1.fence).toBeGreaterThan(writer.fence)
    expect(l2.fence).toBeGreaterThan(writer.fence)
    expect(await b.inspect('k')).toMatchObject({ mode: 'shared', holders: 2 })
    expect(rows(path, 'baton_waiters')).toBe(2)
    expect(await c.release(l1)).toBe(true)
    expect(rows(path, 'baton_leases')).toBe(0)
    expect(await d.release(l2)).toBe(true)
    const lw2 = await granted(w2)
    expect(lw2.fence).toBeGreaterThan(l2.fence)
    expect(rows(path, 'baton_shared')).toBe(0)
    expect(await e.release(lw2)).toBe(true)
    const l3 = await granted(r3)
    expect(l3.fence).toBeGreaterThan(lw2.fence)
    expect(await a.release(l3)).toBe(true)
    expect(leftovers(path)).toEqual([])
  }, 60_000)

  it('a semaphore admits at most limit permits, is apart from the lock of its key, and wakes the next waiter by push', async () => {
    const path = file()
    const [a, b, c] = [open(path), open(path), open(path)]
    const lock = await granted(a.acquire(driverRequest('jobs')))
    const p1 = await granted(a.acquire(permit('jobs', 2)))
    const p2 = await granted(b.acquire(permit('jobs', 2)))
    expect(p1.fence).toBe(1n)
    expect(p2.fence).toBe(2n)
    expect(await c.acquire(permit('jobs', 2))).toBeNull()
    expect(await c.inspect('jobs', 'semaphore')).toMatchObject({
      held: true,
      mode: 'semaphore',
      holders: 2,
      limit: 2,
      fence: 2n,
    })
    expect(await c.inspect('jobs')).toMatchObject({ mode: 'exclusive', owner: lock.owner })
    const waiting = c.acquire(permit('jobs', 2, { waitMs: 60_000 }))
    const behind = b.acquire(permit('jobs', 2, { waitMs: 60_000 }))
    expect(await a.release(p1)).toBe(true)
    const p3 = await granted(waiting)
    expect(p3.fence).toBe(3n)
    expect(await b.release(p2)).toBe(true)
    const p4 = await granted(behind)
    expect(p4.fence).toBe(4n)
    for (const [d, l] of [
      [c, p3],
      [b, p4],
      [a, lock],
    ] as const)
      expect(await d.release(l)).toBe(true)
    expect(await a.inspect('jobs', 'semaphore')).toBeNull()
    expect(leftovers(path)).toEqual([])
  }, 60_000)

  it('several permits freed at once are all taken by the waiters (the grant wakes the next one)', async () => {
    const path = file()
    const [holder, ...waiters] = [open(path), open(path), open(path), open(path)]
    const held = []
    for (let i = 0; i < 3; i++) held.push(await granted(holder.acquire(permit('s', 3))))
    const waits = waiters.map((d) => d.acquire(permit('s', 3, { waitMs: 60_000 })))
    for (const l of held) expect(await holder.release(l)).toBe(true)
    const got = await Promise.all(waits.map(granted))
    expect(new Set(got.map((l) => l.fence)).size).toBe(3)
    expect(await holder.inspect('s', 'semaphore')).toMatchObject({ holders: 3, limit: 3 })
    for (const [i, d] of waiters.entries())
      expect(await d.release(got[i] as DriverLease)).toBe(true)
    expect(leftovers(path)).toEqual([])
  }, 60_000)

  it('a permit asked with another limit than its holders use: LockLimitMismatchError, at once and while waiting', async () => {
    const path = file()
    const [a, b] = [open(path), open(path)]
    const held = await granted(a.acquire(permit('m', 1)))
    await expect(b.acquire(permit('m', 2))).rejects.toMatchObject({
      code: 'LOCK_LIMIT_MISMATCH',
      limit: 2,
      heldLimit: 1,
    })
    await expect(b.acquire(permit('m', 1, { waitMs: 0 }))).resolves.toBeNull()
    const locker = new Locker(open(path))
    try {
      const err = await locker
        .semaphore('m', { limit: 3 })
        .acquire({ waitMs: 1_000 })
        .catch((e: unknown) => e)
      expect(isLockError(err, 'LOCK_LIMIT_MISMATCH')).toBe(true)
    } finally {
      await locker.close()
    }
    expect(await a.release(held)).toBe(true)
    expect(await granted(b.acquire(permit('m', 2)))).toMatchObject({ fence: 2n })
  })

  it('S4: timed-out and aborted waits in every mode leave no ticket and no holder', async () => {
    const path = file()
    const [a, b] = [open(path, {}), open(path, {})]
    const w = await granted(a.acquire(driverRequest('k')))
    const p = await granted(a.acquire(permit('k', 1)))
    expect(await b.acquire(shared('k', { waitMs: 50 }))).toBeNull()
    expect(await b.acquire(permit('k', 1, { waitMs: 50 }))).toBeNull()
    const abort = new AbortController()
    const pending = [
      b.acquire(shared('k', { waitMs: 60_000, signal: abort.signal })),
      b.acquire(permit('k', 1, { waitMs: 60_000, signal: abort.signal })),
    ]
    expect(rows(path, 'baton_waiters')).toBe(2)
    abort.abort()
    expect(await Promise.all(pending)).toEqual([null, null])
    expect(rows(path, 'baton_waiters')).toBe(0)
    expect(rows(path, 'baton_shared')).toBe(1 - 1)
    expect(rows(path, 'baton_permits')).toBe(1)
    expect(await a.release(w)).toBe(true)
    expect(await a.release(p)).toBe(true)
    expect(leftovers(path)).toEqual([])
  })

  it('per-holder expiry and renewal: a silent reader expires alone, renewMany covers every mode', async () => {
    const path = file()
    const [a, b] = [open(path, {}), open(path, {})]
    const quiet = await granted(a.acquire(shared('k', { ttlMs: 200 })))
    const kept = await granted(b.acquire(shared('k', { ttlMs: 1_000 })))
    const p = await granted(b.acquire(permit('s', 1, { ttlMs: 1_000 })))
    const x = await granted(b.acquire(driverRequest('x', { ttlMs: 1_000 })))
    expect(await b.renewMany([kept, p, x], 60_000)).toEqual([
      { ok: true, ttlMs: 60_000 },
      { ok: true, ttlMs: 60_000 },
      { ok: true, ttlMs: 60_000 },
    ])
    // bounded by the quiet reader's TTL (generously): then only the renewed reader holds
    const startMs = performance.now()
    while ((await b.inspect('k'))?.holders !== 1) {
      expect(performance.now() - startMs).toBeLessThan(10_000)
      await new Promise((r) => setTimeout(r, 20))
    }
    expect(await b.inspect('k')).toMatchObject({ mode: 'shared', owner: kept.owner })
    expect((await b.inspect('s', 'semaphore'))?.ttlRemainingMs).toBeGreaterThan(30_000)
    expect(await a.acquire(permit('s', 1))).toBeNull()
    expect(await a.acquire(driverRequest('x'))).toBeNull()
    expect(await a.acquire(driverRequest('k'))).toBeNull()
    expect(await a.renew(quiet, 1_000)).toEqual({ ok: false })
    expect(await b.renew(kept, 60_000)).toMatchObject({ ok: true })
    for (const l of [kept, p, x]) expect(await b.release(l)).toBe(true)
    expect(leftovers(path)).toEqual([])
  })

  it('an election value is stored with the exclusive grant, returned by inspect and gone after release (H1)', async () => {
    const path = file()
    const [a, b] = [open(path), open(path)]
    const leader = await granted(a.acquire(driverRequest('e', { value: 'host-a:8080' })))
    expect(await b.acquire(driverRequest('e', { value: 'host-b:8080' }))).toBeNull()
    expect(await b.inspect('e')).toMatchObject({
      held: true,
      owner: leader.owner,
      value: 'host-a:8080',
    })
    const next = b.acquire(driverRequest('e', { value: 'host-b:8080', waitMs: 60_000 }))
    expect(await a.release(leader)).toBe(true)
    const second = await granted(next)
    expect(await a.inspect('e')).toMatchObject({ owner: second.owner, value: 'host-b:8080' })
    expect(await b.release(second)).toBe(true)
    const plain = await granted(a.acquire(driverRequest('e')))
    expect((await b.inspect('e'))?.value).toBeUndefined()
    expect(await a.release(plain)).toBe(true)
    expect(leftovers(path)).toEqual([])
  }, 60_000)

  it('H1: close() releases held shared locks and permits and takes its tickets out of the queue', async () => {
    const path = file()
    const [a, b] = [open(path, {}), open(path, {})]
    await granted(a.acquire(shared('k')))
    await granted(a.acquire(permit('s', 1)))
    await granted(a.acquire(driverRequest('e', { value: 'v' })))
    const waits = [
      a.acquire(driverRequest('k', { waitMs: 60_000 })),
      a.acquire(permit('s', 1, { waitMs: 60_000 })),
    ]
    expect(rows(path, 'baton_waiters')).toBe(2)
    await a.close()
    expect(await Promise.all(waits)).toEqual([null, null])
    expect(leftovers(path)).toEqual([])
    expect(await b.acquire(driverRequest('k'))).not.toBeNull()
  })

  it('M1 across processes: 3 processes x 8 permits of a limit-2 semaphore never overlap beyond 2', async () => {
    const path = file()
    open(path, {}) // creates the file and schema before the workers race for it
    const log = join(dir, `permits-${fileNo++}.log`)
    writeFileSync(log, '')
    const worker = new URL('./fixtures/permit-worker.mjs', import.meta.url).pathname
    const exits = [0, 1, 2].map(() => {
      const args = { db: path, key: 'pool', binding, limit: 2, rounds: 8, holdMs: 5, log }
      const child = spawn(process.execPath, [worker, JSON.stringify(args)], {
        stdio: ['ignore', 'ignore', 'pipe'],
      })
      children.push(child)
      let stderr = ''
      child.stderr?.on('data', (chunk: Buffer) => {
        stderr += chunk.toString()
      })
      return new Promise<[number | null, string]>((resolve) =>
        child.once('close', (code) => resolve([code, stderr])),
      )
    })
    for (const [code, stderr] of await Promise.all(exits)) expect(code, stderr).toBe(0)
    const holds = readFileSync(log, 'utf8')
      .trim()
      .split('\n')
      .map((line) => line.split(' ').map(BigInt) as [bigint, bigint, bigint])
    expect(holds).toHaveLength(24)
    expect(new Set(holds.map(([fence]) => fence)).size).toBe(24)
    const events = holds
      .flatMap(
        ([, from, to]) =>
          [
            [from, 1],
            [to, -1],
          ] as const,
      )
      .sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : x[1] - y[1]))
    let inside = 0
    let most = 0
    for (const [, step] of events) {
      inside += step
      most = Math.max(most, inside)
    }
    expect(most).toBeLessThanOrEqual(2)
    expect(leftovers(path)).toEqual([])
  }, 120_000)
  it('R1/F1 across processes: 3 processes x 20 random shared and exclusive holds of one key', async () => {
    const path = file()
    open(path, {})
    const log = join(dir, `rw-${fileNo++}.log`)
    writeFileSync(log, '')
    const worker = new URL('./fixtures/rw-worker.mjs', import.meta.url).pathname
    const exits = [0, 1, 2].map(() => {
      const args = { db: path, key: 'rw', binding, rounds: 20, log }
      const child = spawn(process.execPath, [worker, JSON.stringify(args)], {
        stdio: ['ignore', 'ignore', 'pipe'],
      })
      children.push(child)
      let stderr = ''
      child.stderr?.on('data', (chunk: Buffer) => {
        stderr += chunk.toString()
      })
      return new Promise<[number | null, string]>((resolve) =>
        child.once('close', (code) => resolve([code, stderr])),
      )
    })
    for (const [code, stderr] of await Promise.all(exits)) expect(code, stderr).toBe(0)
    const holds = readFileSync(log, 'utf8')
      .trim()
      .split('\n')
      .map((line) => {
        const [mode, fence, from, to] = line.split(' ')
        return {
          mode,
          fence: BigInt(fence as string),
          from: BigInt(from as string),
          to: BigInt(to as string),
        }
      })
    expect(holds).toHaveLength(60)
    expect(new Set(holds.map((h) => h.fence)).size).toBe(60)
    for (const a of holds) {
      for (const b of holds) {
        if (a === b || (a.mode === 'shared' && b.mode === 'shared')) continue
        // R1: an exclusive hold overlaps no other hold
        expect(
          a.to < b.from || b.to < a.from,
          `${a.mode} ${a.fence} overlaps ${b.mode} ${b.fence}`,
        ).toBe(true)
        // F1: a later hold has the greater fence
        if (a.to < b.from) expect(a.fence < b.fence, `fence ${b.fence} after ${a.fence}`).toBe(true)
      }
    }
    expect(leftovers(path)).toEqual([])
  }, 120_000)
})

describe.each(TEST_BINDINGS)('a file made by the previous release, on %s', (binding) => {
  it('is migrated on open: old leases and tickets stay valid, the new modes work', async () => {
    const path = join(dir, `old-${fileNo++}.db`)
    // the schema of @baton-lock/sqlite before shared locks and semaphores, verbatim
    const old = [
      'CREATE TABLE baton_leases (key TEXT NOT NULL PRIMARY KEY, owner TEXT NOT NULL, fence INTEGER NOT NULL, expires_at INTEGER NOT NULL) WITHOUT ROWID',
      'CREATE TABLE baton_fences (key TEXT NOT NULL PRIMARY KEY, fence INTEGER NOT NULL) WITHOUT ROWID',
      'CREATE TABLE baton_waiters (seq INTEGER PRIMARY KEY, key TEXT NOT NULL, owner TEXT NOT NULL, expires_at INTEGER NOT NULL, wake TEXT)',
      'CREATE INDEX baton_waiters_by_key ON baton_waiters (key, seq)',
      `CREATE TRIGGER baton_granted_insert AFTER INSERT ON baton_leases BEGIN
        INSERT INTO baton_fences (key, fence) VALUES (new.key, new.fence)
          ON CONFLICT (key) DO UPDATE SET fence = max(fence, excluded.fence);
        DELETE FROM baton_waiters WHERE key = new.key AND owner = new.owner; END`,
      `CREATE TRIGGER baton_granted_update AFTER UPDATE OF fence ON baton_leases BEGIN
        INSERT INTO baton_fences (key, fence) VALUES (new.key, new.fence)
          ON CONFLICT (key) DO UPDATE SET fence = max(fence, excluded.fence);
        DELETE FROM baton_waiters WHERE key = new.key AND owner = new.owner; END`,
      "INSERT INTO baton_leases VALUES ('held', 'old-owner', 7, 9999999999999)",
      "INSERT INTO baton_waiters (key, owner, expires_at, wake) VALUES ('held', 'old-waiter', 9999999999999, NULL)",
    ]
    for (const sql of old) rawStatement(path, binding, sql).run()
    const driver = new SqliteDriver({ path, binding })
    drivers.push(driver)
    expect(await driver.inspect('held')).toMatchObject({
      held: true,
      owner: 'old-owner',
      fence: 7n,
    })
    expect(await driver.acquire(driverRequest('held', { mode: 'shared' }))).toBeNull()
    const mode = rawStatement(path, binding, 'SELECT mode FROM baton_waiters WHERE owner = ?')
    expect(mode.get('old-waiter')).toEqual({ mode: 'exclusive' })
    expect(await driver.forceRelease('held')).toBe(true)
    // the old waiter's ticket is still first in line: a newcomer waits behind it
    expect(await driver.acquire(driverRequest('held', { mode: 'shared' }))).toBeNull()
    rawStatement(path, binding, "DELETE FROM baton_waiters WHERE owner = 'old-waiter'").run()
    const reader = await driver.acquire(driverRequest('held', { mode: 'shared' }))
    expect(reader?.fence).toBe(8n)
    expect(
      await driver.acquire(driverRequest('held', { mode: 'semaphore', limit: 1 })),
    ).not.toBeNull()
    // a second driver opening the migrated file changes nothing
    const again = new SqliteDriver({ path, binding })
    drivers.push(again)
    expect(await again.inspect('held')).toMatchObject({ mode: 'shared', holders: 1 })
  })
})
