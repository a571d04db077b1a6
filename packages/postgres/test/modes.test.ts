import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import { driverRequest, LockLimitMismatchError, uniqueKey } from '@baton-lock/core/driver'
import { startPostgres } from '@baton-lock/test-matrix'
import type pg from 'pg'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { ADVISORY_KEY_SQL, PostgresDriver, SEMAPHORE_KEY_SQL, semaphoreKey } from '../src/index.js'
import { holdersInSql, must, rawClient, until } from './driver-helpers.js'

let server: Awaited<ReturnType<typeof startPostgres>>
let admin: pg.Client
const drivers: PostgresDriver[] = []
const driver = () => {
  const d = new PostgresDriver({ url: server.url })
  drivers.push(d)
  return d
}

beforeAll(async () => {
  server = await startPostgres()
  admin = await rawClient(server.url)
})
afterAll(async () => {
  await Promise.all(drivers.map((d) => d.close()))
  await admin?.end()
  await server?.stop()
})

/** Holders of `key`'s advisory lock and their modes, from `pg_locks`. */
async function modes(key: string): Promise<string[]> {
  const { rows } = await admin.query<{ mode: string }>(
    `SELECT mode FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1
       AND ((classid::bigint << 32) | objid::bigint) = ${ADVISORY_KEY_SQL} ORDER BY mode`,
    [key],
  )
  return rows.map((r) => r.mode)
}

/** Every two-int4 advisory lock row of semaphore `key` (slots and markers), granted or not. */
async function semaphoreRows(key: string): Promise<number> {
  const { rows } = await admin.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 2
       AND classid::bigint = (${SEMAPHORE_KEY_SQL}::bigint & 4294967295)`,
    [key],
  )
  return rows[0]?.n ?? -1
}

/** Requests of the key that are waiting in PostgreSQL's lock manager. */
async function waiting(key: string): Promise<number> {
  const { rows } = await admin.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND objsubid = 1
       AND ((classid::bigint << 32) | objid::bigint) = ${ADVISORY_KEY_SQL}`,
    [key],
  )
  return rows[0]?.n ?? -1
}

/** The real psql client of the test-matrix PostgreSQL binaries (PATH as a fallback). */
function psqlBinary(): string {
  const root = '/usr/lib/postgresql'
  const majors = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : []
  for (const major of majors) {
    const path = `${root}/${major}/bin/psql`
    if (existsSync(path)) return path
  }
  return 'psql'
}

/** A psql session (application_name `app`) that runs `sql`, then sleeps until `stop()`. */
function psqlHolding(sql: string, app: string): ChildProcess {
  return spawn(
    psqlBinary(),
    [server.url, '-v', 'ON_ERROR_STOP=1', '-c', sql, '-c', 'SELECT pg_sleep(60)'],
    { stdio: 'ignore', env: { ...process.env, PGAPPNAME: app } },
  )
}

/** Runs `sql` in psql to its end: exit code and stderr. */
function psqlRun(sql: string): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(psqlBinary(), [server.url, '-v', 'ON_ERROR_STOP=1', '-Atc', sql])
    let stderr = ''
    child.stderr.on('data', (d) => {
      stderr += String(d)
    })
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stderr }))
  })
}

/** Ends the psql session server-side (its backend would sleep on after a killed client), then the client. */
async function stop(child: ChildProcess, app: string): Promise<void> {
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve()
    else child.once('exit', () => resolve())
  })
  await admin.query(
    'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1',
    [app],
  )
  await exited
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const literal = (key: string) => ADVISORY_KEY_SQL.replace('$1', `'${key.replaceAll("'", "''")}'`)
const shared = (key: string, extra = {}) => driverRequest(key, { mode: 'shared', ...extra })

describe('shared locks', () => {
  test('readers hold together, in one process and across drivers; a writer is excluded, also from the same driver', async () => {
    const a = driver()
    const b = driver()
    const key = uniqueKey('readers')
    const r1 = must(await a.acquire(shared(key)))
    const r2 = must(await a.acquire(shared(key)))
    const r3 = must(await b.acquire(shared(key)))
    expect(await modes(key)).toEqual(['ShareLock', 'ShareLock', 'ShareLock'])
    // the same driver's sessions hold shared: re-entrance must not grant a writer
    expect(await a.acquire(driverRequest(key))).toBeNull()
    expect(await b.acquire(driverRequest(key))).toBeNull()
    const info = must(await a.inspect(key))
    expect(info).toMatchObject({ held: true, mode: 'shared', holders: 3 })
    expect(info.owner).toBeUndefined() // one holder is another driver's
    expect(await a.release(r1)).toBe(true)
    expect(await a.release(r1)).toBe(false)
    expect(await a.release(r2)).toBe(true)
    expect(await b.release(r3)).toBe(true)
    expect(await modes(key)).toEqual([])
    const w = must(await a.acquire(driverRequest(key)))
    expect(await modes(key)).toEqual(['ExclusiveLock'])
    // F1: one fence sequence for both modes
    for (const r of [r1, r2, r3]) expect(w.fence > r.fence).toBe(true)
    expect(must(await a.inspect(key))).toMatchObject({
      mode: 'exclusive',
      holders: 1,
      owner: w.owner,
      fence: w.fence,
    })
    // a writer excludes readers, of this driver and others
    expect(await a.acquire(shared(key))).toBeNull()
    expect(await b.acquire(shared(key))).toBeNull()
    await a.release(w)
    const after = must(await b.acquire(shared(key)))
    expect(after.fence > w.fence).toBe(true)
    expect(must(await b.inspect(key))).toMatchObject({
      mode: 'shared',
      holders: 1,
      owner: after.owner,
    })
    await b.release(after)
    expect(await a.inspect(key)).toBeNull()
  })

  test('R2: a waiting writer is not starved: later readers wait behind it (PostgreSQL queues the writer first)', async () => {
    const a = driver()
    const b = driver()
    const c = driver()
    const key = uniqueKey('r2')
    const reader = must(await a.acquire(shared(key)))
    const writer = b.acquire(driverRequest(key, { waitMs: 20_000 }))
    await until(async () => (await waiting(key)) === 1)
    // a new reader, of another driver and of the reader's own: neither try nor wait gets in
    expect(await c.acquire(shared(key))).toBeNull()
    expect(await a.acquire(shared(key))).toBeNull()
    const lateReader = c.acquire(shared(key, { waitMs: 20_000 }))
    await until(async () => (await waiting(key)) === 2)
    expect(await modes(key)).toEqual(['ShareLock'])
    await a.release(reader)
    const w = must(await writer)
    expect(await modes(key)).toEqual(['ExclusiveLock'])
    expect(w.fence > reader.fence).toBe(true)
    await b.release(w)
    const r = must(await lateReader)
    expect(r.fence > w.fence).toBe(true)
    await c.release(r)
  })

  test('a timed-out or aborted shared wait leaves nothing held or waiting', async () => {
    const a = driver()
    const b = driver()
    const key = uniqueKey('shared-abort')
    const w = must(await a.acquire(driverRequest(key)))
    expect(await b.acquire(shared(key, { waitMs: 300 }))).toBeNull()
    const controller = new AbortController()
    const aborted = b.acquire(shared(key, { waitMs: 20_000, signal: controller.signal }))
    await until(async () => (await waiting(key)) === 1)
    controller.abort()
    expect(await aborted).toBeNull()
    await until(async () => (await waiting(key)) === 0)
    expect(await modes(key)).toEqual(['ExclusiveLock'])
    await a.release(w)
    expect(await modes(key)).toEqual([])
  })

  test('interop: psql pg_advisory_lock_shared blocks a Baton writer, and a Baton writer blocks psql', async () => {
    const a = driver()
    const key = uniqueKey('psql-shared')
    const app = `baton-test-${process.pid}`
    const reader = psqlHolding(`SELECT pg_advisory_lock_shared(${literal(key)})`, app)
    try {
      await until(async () => (await modes(key)).length === 1)
      expect(await modes(key)).toEqual(['ShareLock'])
      expect(await a.acquire(driverRequest(key))).toBeNull()
      expect(await a.acquire(driverRequest(key, { waitMs: 300 }))).toBeNull()
      const r = must(await a.acquire(shared(key)))
      await a.release(r)
    } finally {
      await stop(reader, app)
    }
    await until(async () => (await modes(key)).length === 0)
    const w = must(await a.acquire(driverRequest(key)))
    const blocked = await psqlRun(
      `SET lock_timeout = '300ms'; SELECT pg_advisory_lock_shared(${literal(key)})`,
    )
    expect(blocked.code).not.toBe(0)
    expect(blocked.stderr).toMatch(/lock timeout/)
    expect((await psqlRun(`SELECT pg_try_advisory_lock(${literal(key)})`)).code).toBe(0)
    await a.release(w)
    const free = await psqlRun(
      `SET lock_timeout = '5s'; SELECT pg_advisory_lock_shared(${literal(key)})`,
    )
    expect(free.code).toBe(0)
  })
})

const permit = (key: string, limit: number, extra = {}) =>
  driverRequest(key, { mode: 'semaphore', limit, ...extra })

describe('semaphores', () => {
  test('at most `limit` holders across drivers (M1), fences increasing, a resource apart from the lock', async () => {
    const a = driver()
    const b = driver()
    const key = uniqueKey('sem')
    const p1 = must(await a.acquire(permit(key, 3)))
    const p2 = must(await a.acquire(permit(key, 3)))
    const p3 = must(await b.acquire(permit(key, 3)))
    expect(p2.fence > p1.fence && p3.fence > p2.fence).toBe(true)
    expect(await a.acquire(permit(key, 3))).toBeNull()
    expect(await b.acquire(permit(key, 3))).toBeNull()
    expect(must(await a.inspect(key, 'semaphore'))).toMatchObject({
      held: true,
      mode: 'semaphore',
      holders: 3,
      limit: 3,
    })
    // the lock of the same name is another resource
    expect(await a.inspect(key)).toBeNull()
    const lock = must(await b.acquire(driverRequest(key)))
    await b.release(lock)
    // each permit: 1 slot + 1 marker, nothing for the refused tries
    expect(await semaphoreRows(key)).toBe(6)
    expect(await a.release(p2)).toBe(true)
    expect(await a.release(p2)).toBe(false)
    const p4 = must(await b.acquire(permit(key, 3)))
    expect(p4.fence > p3.fence).toBe(true)
    for (const p of [p1, p3, p4]) await (p === p1 ? a : b).release(p)
    expect(await semaphoreRows(key)).toBe(0)
    expect(await a.inspect(key, 'semaphore')).toBeNull()
  })

  test('many concurrent permit requests from two drivers never admit more than the limit', async () => {
    const a = driver()
    const b = driver()
    const key = uniqueKey('sem-burst')
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) => (i % 2 === 0 ? a : b).acquire(permit(key, 4))),
    )
    const granted = results.filter((r) => r !== null)
    expect(granted.length).toBe(4)
    expect(new Set(granted.map((g) => g.fence)).size).toBe(4)
    expect(must(await a.inspect(key, 'semaphore')).holders).toBe(4)
    await Promise.all(results.map((r, i) => r && (i % 2 === 0 ? a : b).release(r)))
    expect(await semaphoreRows(key)).toBe(0)
  })

  test('a waiter is granted when a permit frees; timeout and abort leave nothing held', async () => {
    const a = driver()
    const b = driver()
    const key = uniqueKey('sem-wait')
    const held = [must(await a.acquire(permit(key, 2))), must(await a.acquire(permit(key, 2)))]
    expect(await b.acquire(permit(key, 2, { waitMs: 400 }))).toBeNull()
    expect(await semaphoreRows(key)).toBe(4)
    const controller = new AbortController()
    const aborted = b.acquire(permit(key, 2, { waitMs: 20_000, signal: controller.signal }))
    // a waiter LISTENs and shows nothing in pg_locks: give it time to be waiting
    await sleep(200)
    controller.abort()
    expect(await aborted).toBeNull()
    expect(await semaphoreRows(key)).toBe(4)
    const waiter = b.acquire(permit(key, 2, { waitMs: 20_000 }))
    await sleep(200)
    expect(await semaphoreRows(key)).toBe(4)
    await a.release(must(held[1]))
    const got = must(await waiter)
    expect(got.fence > must(held[1]).fence).toBe(true)
    expect(must(await b.inspect(key, 'semaphore')).holders).toBe(2)
    await b.release(got)
    await a.release(must(held[0]))
    expect(await semaphoreRows(key)).toBe(0)
  })

  test('a permit freed without a notification (its session ended) still reaches a waiter', async () => {
    const a = driver()
    const b = driver()
    const key = uniqueKey('sem-silent')
    const held = must(await a.acquire(permit(key, 1)))
    const waiter = b.acquire(permit(key, 1, { waitMs: 20_000 }))
    await sleep(100)
    const { rows } = await admin.query<{ pid: number }>(
      `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 2 AND granted
         AND objid::bigint < 2147483648 AND classid::bigint = (${SEMAPHORE_KEY_SQL}::bigint & 4294967295)`,
      [key],
    )
    await admin.query('SELECT pg_terminate_backend($1)', [must(rows[0]).pid])
    const got = must(await waiter)
    expect(got.fence > held.fence).toBe(true)
    await until(() => held.lost.aborted)
    await b.release(got)
    expect(await semaphoreRows(key)).toBe(0)
  })

  test('LockLimitMismatchError when the holders use another limit, and nothing stays held', async () => {
    const a = driver()
    const b = driver()
    const key = uniqueKey('sem-limit')
    const p = must(await a.acquire(permit(key, 3)))
    const err = await b.acquire(permit(key, 5)).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(LockLimitMismatchError)
    expect(err).toMatchObject({ code: 'LOCK_LIMIT_MISMATCH', limit: 5, heldLimit: 3 })
    expect(await semaphoreRows(key)).toBe(2)
    await a.release(p)
    const q = must(await b.acquire(permit(key, 5)))
    await b.release(q)
    expect(await semaphoreRows(key)).toBe(0)
  })

  test('the documented semaphore key expression matches semaphoreKey()', async () => {
    for (const key of ['a', 'jobs:sem', 'ns:ключ', '🔒'.repeat(50)]) {
      const { rows } = await admin.query<{ k: number }>(`SELECT ${SEMAPHORE_KEY_SQL} AS k`, [key])
      expect(rows[0]?.k).toBe(semaphoreKey(key))
    }
  })
})

describe('deadlocks and cleanup', () => {
  test('no wait runs on a holding session, so PostgreSQL sees no deadlock cycle: lock_timeout ends it instead', async () => {
    const a = driver()
    const keyA = uniqueKey('dl-a')
    const keyB = uniqueKey('dl-b')
    // psql-like raw session holds A; Baton holds B and then waits for A
    const raw = await rawClient(server.url)
    try {
      await raw.query(`SELECT pg_advisory_lock(${ADVISORY_KEY_SQL})`, [keyA])
      const b = must(await a.acquire(driverRequest(keyB)))
      const waitA = a.acquire(driverRequest(keyA, { waitMs: 4_000 }))
      await until(async () => (await waiting(keyA)) === 1)
      // the raw session now waits for B: a cycle only if Baton's wait ran on B's session
      await raw.query("SET deadlock_timeout = '100ms'")
      await raw.query("SET lock_timeout = '1500ms'")
      const started = performance.now()
      const rawWait = await raw
        .query(`SELECT pg_advisory_lock(${ADVISORY_KEY_SQL})`, [keyB])
        .catch((e: { code?: string }) => e)
      // 55P03 lock_timeout, not 40P01 deadlock: the detector (after 100 ms) found no cycle
      expect((rawWait as { code?: string }).code).toBe('55P03')
      expect(performance.now() - started).toBeGreaterThan(1_000)
      await raw.query(`SELECT pg_advisory_unlock(${ADVISORY_KEY_SQL})`, [keyA])
      const gotA = must(await waitA)
      const pids = await holdersInSql(admin, keyA)
      const holderB = await holdersInSql(admin, keyB)
      expect(pids.length).toBe(1)
      // the wait ran on another backend than the one holding B
      expect(pids[0]).not.toBe(holderB[0])
      await a.release(gotA)
      await a.release(b)
    } finally {
      await raw.end()
    }
  })

  test('shared holds and permits renew in one heartbeat with exclusive ones, and are lost with their session', async () => {
    const a = driver()
    const key = uniqueKey('renew')
    const leases = [
      must(await a.acquire(shared(key))),
      must(await a.acquire(shared(key))),
      must(await a.acquire(permit(key, 2))),
      must(await a.acquire(permit(key, 2))),
      must(await a.acquire(driverRequest(`${key}:x`))),
    ]
    const results = await a.renewMany(leases, 5_000)
    expect(results.map((r) => r.ok)).toEqual([true, true, true, true, true])
    // end the backend of the first permit's session: exactly the leases on it are lost
    const { rows } = await admin.query<{ pid: number }>(
      `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 2 AND granted
         AND objid::bigint < 2147483648 AND classid::bigint = (${SEMAPHORE_KEY_SQL}::bigint & 4294967295)`,
      [key],
    )
    const victim = must(rows[0]).pid
    await admin.query('SELECT pg_terminate_backend($1)', [victim])
    await until(() => leases.some((l) => l.lost.aborted))
    const after = await a.renewMany(leases, 5_000)
    const lost = leases.map((l) => l.lost.aborted)
    expect(after.map((r) => r.ok)).toEqual(lost.map((l) => !l))
    expect(lost.filter(Boolean).length).toBeGreaterThanOrEqual(1)
    expect(lost.filter(Boolean).length).toBeLessThan(leases.length)
    for (const l of leases) if (!l.lost.aborted) expect(await a.release(l)).toBe(true)
    expect(await modes(key)).toEqual([])
    expect(await semaphoreRows(key)).toBe(0)
  })

  test('H1: after close, nothing of any mode is left on the server', async () => {
    const a = driver()
    const key = uniqueKey('h1')
    must(await a.acquire(shared(key)))
    must(await a.acquire(shared(key)))
    must(await a.acquire(permit(key, 2)))
    must(await a.acquire(driverRequest(`${key}:x`)))
    expect((await modes(key)).length).toBe(2)
    await a.close()
    await until(async () => (await modes(key)).length === 0 && (await semaphoreRows(key)) === 0)
    expect(await holdersInSql(admin, `${key}:x`)).toEqual([])
  })
})

test('a semaphore wait with a TTL shorter than the backstop keeps its idle session alive', async () => {
  const a = driver()
  const b = driver()
  const key = uniqueKey('sem-short-ttl')
  const held = must(await a.acquire(permit(key, 1)))
  // idle_session_timeout = 150 ms on the waiting session; the wait idles between attempts
  const waiter = b.acquire(permit(key, 1, { ttlMs: 150, waitMs: 20_000 }))
  await sleep(1_000)
  await a.release(held)
  const got = must(await waiter)
  expect(got.lost.aborted).toBe(false)
  await b.release(got)
})

test('one process holds at most maxSessions shared holds of a key: a further try answers null at once, a wait gets the next free session', async () => {
  const a = new PostgresDriver({ url: server.url, maxSessions: 2 })
  drivers.push(a)
  const key = uniqueKey('shared-cap')
  const r1 = must(await a.acquire(shared(key)))
  const r2 = must(await a.acquire(shared(key)))
  const controller = new AbortController()
  const guard = setTimeout(() => controller.abort(), 3_000)
  // without the answer at once, this try would run until the guard aborts it
  expect(await a.acquire(shared(key, { signal: controller.signal }))).toBeNull()
  expect(controller.signal.aborted).toBe(false)
  clearTimeout(guard)
  const third = a.acquire(shared(key, { waitMs: 10_000 }))
  await a.release(r1)
  const r3 = must(await third)
  expect(await modes(key)).toEqual(['ShareLock', 'ShareLock'])
  await a.release(r2)
  await a.release(r3)
})
