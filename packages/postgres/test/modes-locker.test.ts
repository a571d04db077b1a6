import { Locker, LockLimitMismatchError, LockTimeoutError } from '@baton-lock/core'
import { uniqueKey } from '@baton-lock/core/driver'
import { startPostgres } from '@baton-lock/test-matrix'
import type pg from 'pg'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { ADVISORY_KEY_SQL, PostgresDriver, SEMAPHORE_KEY_SQL } from '../src/index.js'
import { holdersInSql, rawClient, until } from './driver-helpers.js'

let server: Awaited<ReturnType<typeof startPostgres>>
let admin: pg.Client
const lockers: Locker[] = []
const locker = () => {
  const l = new Locker(new PostgresDriver({ url: server.url }), { ttlMs: 10_000 })
  lockers.push(l)
  return l
}

beforeAll(async () => {
  server = await startPostgres()
  admin = await rawClient(server.url)
})
afterAll(async () => {
  await Promise.all(lockers.map((l) => l.close()))
  await admin?.end()
  await server?.stop()
})

/** Granted slot locks (not markers) of semaphore `key` on the server. */
async function permitsOnServer(key: string): Promise<number> {
  const { rows } = await admin.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 2 AND granted
       AND objid::bigint < 2147483648 AND classid::bigint = (${SEMAPHORE_KEY_SQL}::bigint & 4294967295)`,
    [key],
  )
  return rows[0]?.n ?? -1
}

/** Every advisory lock row (granted or waiting) the server has. */
async function advisoryRows(): Promise<number> {
  const { rows } = await admin.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory'",
  )
  return rows[0]?.n ?? -1
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe('shared locks and semaphores through Locker', () => {
  test('readers together, the writer excluded, then the writer with a greater fence', async () => {
    const a = locker()
    const b = locker()
    const key = uniqueKey('catalog')
    const readers = await Promise.all([
      a.acquire(key, { mode: 'shared' }),
      a.acquire(key, { mode: 'shared' }),
      b.acquire(key, { mode: 'shared' }),
    ])
    expect(readers.map((r) => r.mode)).toEqual(['shared', 'shared', 'shared'])
    expect(await a.tryAcquire(key)).toBeNull()
    expect(await b.tryAcquire(key)).toBeNull()
    expect(await a.inspect(key)).toMatchObject({ held: true, mode: 'shared', holders: 3 })
    const writer = b.acquire(key, { waitMs: 20_000 })
    await sleep(100)
    for (const r of readers) await r.release()
    const w = await writer
    expect(w.mode).toBe('exclusive')
    for (const r of readers) expect(w.fence > r.fence).toBe(true)
    expect(await a.tryAcquire(key, { mode: 'shared' })).toBeNull()
    await w.release()
    expect(await holdersInSql(admin, key)).toEqual([])
  })

  test('the writer is not starved by a stream of readers (R2)', async () => {
    const a = locker()
    const b = locker()
    const key = uniqueKey('stream')
    let stop = false
    let readsAfterWriterQueued = 0
    let writerQueued = false
    let overlap = false
    let writing = false
    let reading = 0
    // two overlapping reader loops keep the key shared-held at all times
    const readerLoop = async (l: Locker) => {
      for (let i = 0; i < 200 && !stop; i++) {
        const r = await l.acquire(key, { mode: 'shared', waitMs: 20_000 })
        if (writing) overlap = true
        reading++
        if (writerQueued) readsAfterWriterQueued++
        await sleep(20)
        reading--
        await r.release()
      }
    }
    // a base reader makes sure the writer has to wait
    const base = await a.acquire(key, { mode: 'shared' })
    const loops = [readerLoop(a), readerLoop(b), readerLoop(a)]
    await sleep(100)
    const writer = b.acquire(key, { waitMs: 20_000 })
    await until(async () => {
      const { rows } = await admin.query(
        `SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND mode = 'ExclusiveLock'
           AND ((classid::bigint << 32) | objid::bigint) = ${ADVISORY_KEY_SQL}`,
        [key],
      )
      return rows.length > 0
    })
    writerQueued = true
    await base.release()
    const w = await writer
    writing = true
    if (reading > 0) overlap = true
    await sleep(50)
    writing = false
    await w.release()
    stop = true
    await Promise.all(loops)
    expect(overlap).toBe(false)
    // grants already on their way when the writer queued (one per loop) may land; no other
    expect(readsAfterWriterQueued).toBeLessThanOrEqual(3)
  })

  test('a semaphore admits at most `limit` holders across three drivers (M1), each permit its own fence', async () => {
    const all = [locker(), locker(), locker()]
    const key = uniqueKey('vendor-api')
    let inUse = 0
    let most = 0
    const fences: bigint[] = []
    await Promise.all(
      Array.from({ length: 15 }, (_, i) =>
        all[i % 3]?.semaphore(key, { limit: 3 }).withLock(
          async (permit) => {
            inUse++
            most = Math.max(most, inUse)
            fences.push(permit.fence)
            expect(permit.mode).toBe('semaphore')
            expect(await permitsOnServer(key)).toBeLessThanOrEqual(3)
            await sleep(30)
            inUse--
          },
          { waitMs: 30_000 },
        ),
      ),
    )
    expect(most).toBeLessThanOrEqual(3)
    expect(most).toBeGreaterThanOrEqual(1)
    // concurrent permits have no order; each its own fence (F1 order is checked in modes.test.ts)
    expect(new Set(fences).size).toBe(15)
    expect(await permitsOnServer(key)).toBe(0)
  })

  test('semaphore and lock of one name are separate; inspect reports holders and limit; a mismatched limit is refused', async () => {
    const a = locker()
    const b = locker()
    const key = uniqueKey('jobs')
    const sem = a.semaphore(key, { limit: 2 })
    const p1 = await sem.acquire()
    const lock = await b.acquire(key)
    expect(await sem.inspect()).toMatchObject({ held: true, holders: 1, limit: 2 })
    expect(await b.inspect(key)).toMatchObject({ held: true, mode: 'exclusive', holders: 1 })
    await expect(b.semaphore(key, { limit: 4 }).tryAcquire()).rejects.toBeInstanceOf(
      LockLimitMismatchError,
    )
    await lock.release()
    await p1.release()
    expect(await sem.inspect()).toMatchObject({ held: false })
  })

  test('a timed-out or aborted shared or semaphore wait leaves nothing held', async () => {
    const a = locker()
    const b = locker()
    const key = uniqueKey('give-up')
    const before = await advisoryRows()
    const writer = await a.acquire(key)
    await expect(b.acquire(key, { mode: 'shared', waitMs: 300 })).rejects.toBeInstanceOf(
      LockTimeoutError,
    )
    const controller = new AbortController()
    const aborted = b.acquire(key, { mode: 'shared', waitMs: 20_000, signal: controller.signal })
    await sleep(200)
    controller.abort()
    await expect(aborted).rejects.toThrow()
    const sem = a.semaphore(key, { limit: 1 })
    const permit = await sem.acquire()
    await expect(b.semaphore(key, { limit: 1 }).acquire({ waitMs: 600 })).rejects.toBeInstanceOf(
      LockTimeoutError,
    )
    const semController = new AbortController()
    const semAborted = b
      .semaphore(key, { limit: 1 })
      .acquire({ waitMs: 20_000, signal: semController.signal })
    await sleep(200)
    semController.abort()
    await expect(semAborted).rejects.toThrow()
    // holder's exclusive lock + its permit (slot and marker), nothing of the given-up waits
    await until(async () => (await advisoryRows()) === before + 3)
    await permit.release()
    await writer.release()
    await until(async () => (await advisoryRows()) === before)
  })

  test('H1: closing a Locker leaves nothing of any mode on the server', async () => {
    const l = locker()
    const key = uniqueKey('h1')
    const before = await advisoryRows()
    await l.acquire(key, { mode: 'shared' })
    await l.acquire(key, { mode: 'shared' })
    await l.semaphore(key, { limit: 3 }).acquire()
    await l.acquire(`${key}:other`)
    expect(await advisoryRows()).toBe(before + 5)
    await l.close()
    await until(async () => (await advisoryRows()) === before)
  })

  test('an election stores its value: leader() from another driver names value, owner and fence; nothing stale after a resign or a lost session', async () => {
    const a = locker()
    const b = locker()
    const key = uniqueKey('coordinator')
    const election = a.election(key, { value: 'host-a:8080' })
    const follower = b.election(key, { value: 'host-b:8080' })
    expect(await follower.leader()).toBeNull()
    const leadership = await election.campaign()
    expect(election.isLeader()).toBe(true)
    const expected = { value: 'host-a:8080', owner: leadership.owner, fence: leadership.fence }
    expect(await follower.leader()).toMatchObject(expected)
    expect(await election.leader()).toMatchObject(expected)
    const waiting = follower.campaign({ waitMs: 20_000 })
    await sleep(100)
    await election.resign()
    const next = await waiting
    expect(await election.leader()).toMatchObject({ value: 'host-b:8080', owner: next.owner })
    await follower.resign()
    expect(await election.leader()).toBeNull()
    // a plain acquire of the key has no value, even on the session that held the election
    const plain = await a.acquire(key)
    expect((await b.inspect(key)).value).toBeUndefined()
    await plain.release()
    // a leader whose session ends leaves a row behind; it is never reported for a new holder
    const again = await election.campaign()
    const pids = await holdersInSql(admin, key)
    await admin.query('SELECT pg_terminate_backend($1)', [pids[0]])
    await until(() => !again.isValid())
    const raw = await rawClient(server.url)
    try {
      await raw.query(`SELECT pg_advisory_lock(${ADVISORY_KEY_SQL})`, [key])
      const info = await b.inspect(key)
      expect(info).toMatchObject({ held: true, mode: 'exclusive' })
      expect(info.value).toBeUndefined()
    } finally {
      await raw.end()
    }
    await again.release().catch(() => undefined)
  })
})
