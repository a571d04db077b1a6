import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { DriverLease } from '@baton-lock/core'
import { driverRequest } from '@baton-lock/core/driver'
import type { SqliteBinding } from '@baton-lock/sqlite'
import { SqliteDriver } from '@baton-lock/sqlite'
import { ensureBuilt } from '@baton-lock/test-matrix'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { TEST_BINDINGS } from './bindings.js'
import { rawStatement } from './raw-sql.js'

// The waiters' queue and its push wake-ups, across real processes on one file.
const dir = mkdtempSync(join(tmpdir(), 'baton-sqlite-queue-'))
const drivers: SqliteDriver[] = []
const children: ChildProcess[] = []
let fileNo = 0

beforeAll(() => ensureBuilt(['packages/core', 'packages/sqlite']), 180_000)
afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL')
  for (const driver of drivers.splice(0)) await driver.close()
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

interface WorkerArgs {
  readonly db: string
  readonly key: string
  /** Keys to take one after the other on one driver (default: `key` alone). */
  readonly keys?: readonly string[]
  readonly binding: SqliteBinding
  readonly name: string
  readonly log: string
  readonly holdMs?: number
  readonly pollMinMs?: number
  readonly pollMaxMs?: number
  readonly waiterTtlMs?: number
}

/** Starts a waiter process (fixtures/queue-worker.mjs); resolves with its exit code and stderr. */
function startWaiter(args: WorkerArgs): {
  child: ChildProcess
  exited: Promise<[number | null, string]>
} {
  const worker = new URL('./fixtures/queue-worker.mjs', import.meta.url).pathname
  const child = spawn(process.execPath, [worker, JSON.stringify(args)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  children.push(child)
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString()
  })
  const exited = new Promise<[number | null, string]>((resolve) =>
    child.once('close', (code) => resolve([code, stderr])),
  )
  return { child, exited }
}

/** Polls until `count()` reaches `n` (generous bound: process start-up on a busy machine). */
async function until(condition: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const startMs = performance.now()
  while (!condition()) {
    if (performance.now() - startMs > timeoutMs) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

describe.each(TEST_BINDINGS)('queued waiters on %s', (binding) => {
  const setup = (key: string) => {
    const db = join(dir, `queue-${fileNo++}.db`)
    const log = join(dir, `queue-${fileNo++}.log`)
    writeFileSync(log, '')
    const holder = new SqliteDriver({ path: db, binding })
    drivers.push(holder)
    const tickets = rawStatement(
      db,
      binding,
      'SELECT count(*) AS n FROM baton_waiters WHERE key = ? AND expires_at > ?',
    )
    const live = () => Number((tickets.get(key, String(Date.now())) as { n: number }).n)
    const entries = () =>
      readFileSync(log, 'utf8')
        .trim()
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => {
          const [name, fence, atMs] = l.split(' ')
          return { name, fence: BigInt(fence as string), atMs: Number(atMs) }
        })
    return { db, log, holder, live, entries }
  }

  it('grants in arrival order across processes, and a request that is not queued does not pass them', async () => {
    const key = 'fifo'
    const { db, log, holder, live, entries } = setup(key)
    const held = (await holder.acquire(driverRequest(key, { ttlMs: 60_000 }))) as DriverLease
    expect(held).not.toBeNull()
    const exits = []
    for (const name of ['first', 'second', 'third']) {
      const queuedBefore = live()
      exits.push(startWaiter({ db, key, binding, name, log, holdMs: 20 }).exited)
      await until(() => live() === queuedBefore + 1, `${name} to queue`)
    }
    expect(await holder.release(held)).toBe(true)
    // the queue is not empty until the last waiter is granted: a newcomer is refused
    expect(await holder.acquire(driverRequest(key, { waitMs: 0 }))).toBeNull()
    for (const [code, stderr] of await Promise.all(exits)) expect(code, stderr).toBe(0)
    const granted = entries()
    expect(granted.map((e) => e.name)).toEqual(['first', 'second', 'third'])
    for (let i = 1; i < granted.length; i++) {
      expect((granted[i] as { fence: bigint }).fence).toBeGreaterThan(
        (granted[i - 1] as { fence: bigint }).fence,
      )
    }
    expect(live()).toBe(0)
    expect(await holder.acquire(driverRequest(key, { waitMs: 0 }))).not.toBeNull()
  }, 120_000)

  it('a release in this process wakes a waiter in another one: granted with its poll minutes away', async () => {
    const key = 'wake'
    const { db, log, holder, live, entries } = setup(key)
    const held = (await holder.acquire(driverRequest(key, { ttlMs: 600_000 }))) as DriverLease
    // the waiter looks once, then sleeps at least 5 minutes between looks (and never renews
    // its ticket meanwhile): only a push can get it the lock before the test times out
    const { exited } = startWaiter({
      db,
      key,
      binding,
      name: 'sleeper',
      log,
      pollMinMs: 600_000,
      pollMaxMs: 600_000,
      waiterTtlMs: 3_600_000,
    })
    await until(() => live() === 1, 'the waiter to queue')
    // let its one look happen (it started right after queueing); even if it had not, the
    // wake would be kept for its first sleep
    await new Promise((r) => setTimeout(r, 200))
    expect(await holder.release(held)).toBe(true)
    const [code, stderr] = await exited
    expect(code, stderr).toBe(0)
    expect(entries().map((e) => e.name)).toEqual(['sleeper'])
  }, 60_000)

  it('wakes to a process go on one kept connection, and reach a new process after the last one went away', async () => {
    const { db, log, holder, entries } = setup('unused')
    const tickets = rawStatement(
      db,
      binding,
      'SELECT count(*) AS n FROM baton_waiters WHERE key = ? AND expires_at > ?',
    )
    const queued = (key: string) =>
      Number((tickets.get(key, String(Date.now())) as { n: number }).n) === 1
    const held = new Map<string, DriverLease>()
    for (const key of ['one', 'two', 'three']) {
      held.set(key, (await holder.acquire(driverRequest(key, { ttlMs: 600_000 }))) as DriverLease)
    }
    // polls minutes apart and tickets that need no renewal: every grant below is a push
    const sleepy = { binding, log, pollMinMs: 600_000, pollMaxMs: 600_000, waiterTtlMs: 3_600_000 }
    const first = startWaiter({ ...sleepy, db, key: 'one', keys: ['one', 'two'], name: 'first' })
    for (const key of ['one', 'two']) {
      await until(() => queued(key), `the first waiter to queue on ${key}`)
      await new Promise((r) => setTimeout(r, 100))
      expect(await holder.release(held.get(key) as DriverLease)).toBe(true)
    }
    const [code, stderr] = await first.exited
    expect(code, stderr).toBe(0)
    // its driver closed (and its process ended): the next wake goes to a new address
    const second = startWaiter({ ...sleepy, db, key: 'three', name: 'second' })
    await until(() => queued('three'), 'the second waiter to queue')
    await new Promise((r) => setTimeout(r, 100))
    expect(await holder.release(held.get('three') as DriverLease)).toBe(true)
    const [code2, stderr2] = await second.exited
    expect(code2, stderr2).toBe(0)
    expect(entries().map((e) => e.name)).toEqual(['first', 'first', 'second'])
  }, 60_000)

  it('a waiter that dies drops out of the queue once its ticket expires; nobody behind it is granted before', async () => {
    const key = 'dead'
    const { db, log, holder, live, entries } = setup(key)
    const held = (await holder.acquire(driverRequest(key, { ttlMs: 60_000 }))) as DriverLease
    const waiterTtlMs = 1_000
    const doomed = startWaiter({ db, key, binding, name: 'doomed', log, waiterTtlMs })
    await until(() => live() === 1, 'the doomed waiter to queue')
    const survivor = startWaiter({ db, key, binding, name: 'survivor', log, waiterTtlMs })
    await until(() => live() === 2, 'the survivor to queue')
    doomed.child.kill('SIGKILL')
    await doomed.exited
    // its ticket's expiry cannot move any more
    const expiry = rawStatement(
      db,
      binding,
      'SELECT min(expires_at) AS at FROM baton_waiters WHERE key = ?',
    )
    const doomedExpiresAtMs = Number((expiry.get(key) as { at: number }).at)
    expect(await holder.release(held)).toBe(true)
    const [code, stderr] = await survivor.exited
    expect(code, stderr).toBe(0)
    const granted = entries()
    expect(granted.map((e) => e.name)).toEqual(['survivor'])
    expect((granted[0] as { atMs: number }).atMs).toBeGreaterThanOrEqual(doomedExpiresAtMs)
    expect(live()).toBe(0)
  }, 120_000)

  // polls (and ticket renewals) minutes apart, leases of 10 minutes: every turn is a push
  it('a waiter that gives up leaves the queue and passes the turn to the next one', async () => {
    const key = 'give-up'
    const { db, holder, live } = setup(key)
    const waiters = new SqliteDriver({
      path: db,
      binding,
      pollMinMs: 600_000,
      pollMaxMs: 600_000,
      waiterTtlMs: 3_600_000,
    })
    drivers.push(waiters)
    const held = (await holder.acquire(driverRequest(key, { ttlMs: 600_000 }))) as DriverLease
    const quitter = new AbortController()
    const first = waiters.acquire(
      driverRequest(key, { waitMs: 60_000, ttlMs: 600_000, signal: quitter.signal }),
    )
    await until(() => live() === 1, 'the first waiter to queue')
    const second = waiters.acquire(driverRequest(key, { waitMs: 60_000, ttlMs: 600_000 }))
    await until(() => live() === 2, 'the second waiter to queue')
    expect(await holder.release(held)).toBe(true)
    // the release woke the first; it is granted, released, and the second is woken in turn
    const lease = (await first) as DriverLease
    expect(lease).not.toBeNull()
    expect(await waiters.release(lease)).toBe(true)
    const next = (await second) as DriverLease
    expect(next).not.toBeNull()
    const third = waiters.acquire(
      driverRequest(key, { waitMs: 60_000, ttlMs: 600_000, signal: quitter.signal }),
    )
    await until(() => live() === 1, 'the third waiter to queue')
    const fourth = waiters.acquire(driverRequest(key, { waitMs: 60_000, ttlMs: 600_000 }))
    await until(() => live() === 2, 'the fourth waiter to queue')
    quitter.abort()
    expect(await third).toBeNull()
    expect(live()).toBe(1)
    expect(await waiters.release(next)).toBe(true)
    const last = (await fourth) as DriverLease
    expect(last).not.toBeNull()
    expect(last.fence).toBeGreaterThan(next.fence)
    expect(live()).toBe(0)
  }, 60_000)

  it('closing a driver takes its waiters out of the queue', async () => {
    const key = 'close'
    const { db, holder, live } = setup(key)
    const held = (await holder.acquire(driverRequest(key, { ttlMs: 600_000 }))) as DriverLease
    const waiters = new SqliteDriver({ path: db, binding, waiterTtlMs: 3_600_000 })
    const waiting = waiters.acquire(driverRequest(key, { waitMs: 60_000 }))
    await until(() => live() === 1, 'the waiter to queue')
    await waiters.close()
    expect(await waiting).toBeNull()
    expect(live()).toBe(0)
    expect(await holder.release(held)).toBe(true)
    expect(await holder.acquire(driverRequest(key, { waitMs: 0 }))).not.toBeNull()
  }, 60_000)
})
