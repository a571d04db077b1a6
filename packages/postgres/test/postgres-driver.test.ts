import { startPostgres } from '@baton/test-matrix'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { ADVISORY_KEY_SQL, advisoryKey, PostgresDriver } from '../src/index.js'
import { holdersInSql, must, rawClient, request, until } from './driver-helpers.js'

let server: Awaited<ReturnType<typeof startPostgres>>
const drivers: PostgresDriver[] = []
const driver = () => {
  const d = new PostgresDriver({ url: server.url })
  drivers.push(d)
  return d
}

beforeAll(async () => {
  server = await startPostgres()
})
afterAll(async () => {
  await Promise.all(drivers.map((d) => d.close()))
  await server?.stop()
})

describe('PostgresDriver', () => {
  test('the SQL key expression computes the same 64-bit key as advisoryKey()', async () => {
    const client = await rawClient(server.url)
    try {
      for (const key of ['a', 'A', 'invoice:42', 'ns:ключ', '🔒'.repeat(100), 'x'.repeat(1024)]) {
        const { rows } = await client.query<{ k: string }>(
          `SELECT ${ADVISORY_KEY_SQL}::text AS k`,
          [key],
        )
        expect(BigInt(rows[0]?.k ?? '')).toBe(advisoryKey(key))
      }
    } finally {
      await client.end()
    }
  })

  test('acquire excludes another driver, a raw pg_try_advisory_lock, and release frees the key', async () => {
    const a = driver()
    const b = driver()
    const lease = await a.acquire(request('interop'))
    expect(lease).not.toBeNull()
    expect(await b.acquire(request('interop'))).toBeNull()
    const client = await rawClient(server.url)
    try {
      const held = await client.query(`SELECT pg_try_advisory_lock(${ADVISORY_KEY_SQL}) AS ok`, [
        'interop',
      ])
      expect(held.rows[0]?.ok).toBe(false)
      expect((await holdersInSql(client, 'interop')).length).toBe(1)
      expect(await a.release(must(lease))).toBe(true)
      expect(await a.release(must(lease))).toBe(false)
      expect(await holdersInSql(client, 'interop')).toEqual([])
      const later = await b.acquire(request('interop'))
      expect(must(later).fence > must(lease).fence).toBe(true)
      await b.release(must(later))
    } finally {
      await client.end()
    }
  })

  test('a waiter is granted server-side as soon as the holder releases', async () => {
    const a = driver()
    const b = driver()
    const first = await a.acquire(request('handoff'))
    const waiting = b.acquire(request('handoff', { waitMs: 10_000 }))
    await until(async () => {
      const client = await rawClient(server.url)
      const { rows } = await client.query(
        "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted",
      )
      await client.end()
      return rows.length > 0
    })
    const releasedAt = performance.now()
    await a.release(must(first))
    const second = await waiting
    expect(second).not.toBeNull()
    expect(performance.now() - releasedAt).toBeLessThan(1_000)
    expect(must(second).fence > must(first).fence).toBe(true)
    await b.release(must(second))
  })

  test('a wait ends at waitMs with nothing held, and an abort cancels it server-side', async () => {
    const a = driver()
    const b = driver()
    const held = await a.acquire(request('timeout'))
    expect(await b.acquire(request('timeout', { waitMs: 200 }))).toBeNull()
    const abort = new AbortController()
    const waiting = b.acquire(request('timeout', { waitMs: 60_000, signal: abort.signal }))
    setTimeout(() => abort.abort(), 100)
    const start = performance.now()
    expect(await waiting).toBeNull()
    expect(performance.now() - start).toBeLessThan(1_000)
    const client = await rawClient(server.url)
    try {
      await until(async () => {
        const { rows } = await client.query(
          "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted",
        )
        return rows.length === 0
      })
      await a.release(must(held))
      expect(await holdersInSql(client, 'timeout')).toEqual([])
    } finally {
      await client.end()
    }
  })

  test('renewMany confirms every lock with one heartbeat per session', async () => {
    const a = driver()
    const leases = await Promise.all(
      Array.from({ length: 50 }, (_, i) => a.acquire(request(`renew-${i}`))),
    )
    const results = await a.renewMany(
      leases.map((l) => must(l)),
      10_000,
    )
    expect(results.every((r) => r.ok)).toBe(true)
    expect(a.sessionCount).toBeLessThanOrEqual(2)
    for (const l of leases) await a.release(must(l))
    expect((await a.renew(must(leases[0]), 10_000)).ok).toBe(false)
  })

  test('terminating the holding session aborts lost for every lock on it', async () => {
    const a = driver()
    const one = await a.acquire(request('lost-1'))
    const two = await a.acquire(request('lost-2'))
    const client = await rawClient(server.url)
    try {
      const [pid] = await holdersInSql(client, 'lost-1')
      await client.query('SELECT pg_terminate_backend($1)', [pid])
      await until(() => must(one).lost.aborted && must(two).lost.aborted)
      expect(String(must(one).lost.reason)).toContain('ended')
      expect((await a.renew(must(one), 10_000)).ok).toBe(false)
      expect(await a.release(must(two))).toBe(false)
      const again = await a.acquire(request('lost-1'))
      expect(must(again).fence > must(one).fence).toBe(true)
      await a.release(must(again))
    } finally {
      await client.end()
    }
  })
})
