// The driver on a small server: it never takes every connection slot, treats a refused
// connection as "no free session", and never fills the server's shared lock table.
import { isLockError, Locker } from '@baton-lock/core'
import { startPostgres } from '@baton-lock/test-matrix'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { PostgresDriver } from '../src/index.js'
import { rawClient } from './driver-helpers.js'

describe('a server with max_connections = 20', () => {
  let server: Awaited<ReturnType<typeof startPostgres>>
  beforeAll(async () => {
    server = await startPostgres({
      settings: { max_connections: 20, superuser_reserved_connections: 3 },
    })
  })
  afterAll(async () => {
    await server?.stop()
  })

  test('by default the driver leaves free slots: 50 waiters on 50 held keys, and psql still connects meanwhile', async () => {
    const holders = new Locker(new PostgresDriver({ url: server.url }))
    const waiters = new Locker(new PostgresDriver({ url: server.url }))
    const held = await Promise.all(
      Array.from({ length: 50 }, (_, i) => holders.acquire(`slots:k${i}`, { waitMs: 5_000 })),
    )
    const failures: string[] = []
    const attempts = Array.from({ length: 50 }, async (_, i) => {
      try {
        const handle = await waiters.acquire(`slots:k${i}`, { waitMs: 60_000 })
        await handle.release()
      } catch (err) {
        failures.push(String((err as Error).message))
      }
    })
    await new Promise((r) => setTimeout(r, 500))
    const operator = await rawClient(server.url)
    const { rows } = await operator.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'baton'",
    )
    await operator.end()
    await Promise.all(held.map((h) => h.release()))
    await Promise.all(attempts)
    await holders.close()
    await waiters.close()
    expect(failures).toEqual([])
    // 17 slots for ordinary roles: the two drivers took at most about half of them
    expect(rows[0]?.n).toBeLessThanOrEqual(10)
  })

  test('50 waiters on 50 different held keys: a refused connection means "no free session", not failure', async () => {
    // an explicit maxSessions above the server's limit: the server refuses connections (53300)
    const holders = new Locker(new PostgresDriver({ url: server.url }))
    const waiters = new Locker(new PostgresDriver({ url: server.url, maxSessions: 64 }))
    const held = await Promise.all(
      Array.from({ length: 50 }, (_, i) => holders.acquire(`limits:k${i}`, { waitMs: 5_000 })),
    )
    const failures: string[] = []
    const attempts = Array.from({ length: 50 }, async (_, i) => {
      try {
        const handle = await waiters.acquire(`limits:k${i}`, { waitMs: 60_000 })
        await handle.release()
      } catch (err) {
        failures.push(String((err as Error).message))
      }
    })
    await new Promise((r) => setTimeout(r, 500))
    await Promise.all(held.map((h) => h.release()))
    await Promise.all(attempts)
    await holders.close()
    await waiters.close()
    expect(failures).toEqual([])
  })
})

describe('a server whose lock table holds 64 x (20 + 0) entries', () => {
  let server: Awaited<ReturnType<typeof startPostgres>>
  beforeAll(async () => {
    server = await startPostgres({
      settings: {
        max_connections: 20,
        max_locks_per_transaction: 64,
        max_prepared_transactions: 0,
      },
    })
  })
  afterAll(async () => {
    await server?.stop()
  })

  test('refuses new locks with a LockBackendError naming max_locks_per_transaction before the table is full; others can still connect', async () => {
    const locker = new Locker(new PostgresDriver({ url: server.url }))
    const handles = []
    let refusal: unknown
    for (let i = 0; i < 6_000; i++) {
      try {
        handles.push(await locker.tryAcquire(`table:${i}`))
      } catch (err) {
        refusal = err
        break
      }
    }
    expect(isLockError(refusal, 'LOCK_BACKEND')).toBe(true)
    expect(String((refusal as Error).message)).toMatch(/max_locks_per_transaction/)
    expect(handles.length).toBeGreaterThan(100)
    expect(handles.length).toBeLessThan(64 * 20)
    // the server still serves everybody else: a new connection and a lock of its own
    const operator = await rawClient(server.url)
    const { rows } = await operator.query<{ ok: boolean }>('SELECT pg_try_advisory_lock(42) AS ok')
    expect(rows[0]?.ok).toBe(true)
    await operator.end()
    await locker.close()
  })
})
