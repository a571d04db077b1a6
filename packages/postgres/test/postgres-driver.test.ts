import { driverRequest } from '@baton-lock/core/driver'
import { startPostgres } from '@baton-lock/test-matrix'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { ADVISORY_KEY_SQL, advisoryKey, PostgresDriver, sessionLiveness } from '../src/index.js'
import { LockSession, versionNumber } from '../src/lock-session.js'
import { lockStatements, quoteIdent } from '../src/lock-statements.js'
import { assertSameBackend } from '../src/session-heartbeat.js'
import { holdersInSql, must, rawClient, until } from './driver-helpers.js'

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
    const lease = await a.acquire(driverRequest('interop'))
    expect(lease).not.toBeNull()
    expect(await b.acquire(driverRequest('interop'))).toBeNull()
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
      const later = await b.acquire(driverRequest('interop'))
      expect(must(later).fence > must(lease).fence).toBe(true)
      await b.release(must(later))
    } finally {
      await client.end()
    }
  })

  test('a waiter is granted server-side as soon as the holder releases', async () => {
    const a = driver()
    const b = driver()
    const first = await a.acquire(driverRequest('handoff'))
    const waiting = b.acquire(driverRequest('handoff', { waitMs: 10_000 }))
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
    const held = await a.acquire(driverRequest('timeout'))
    expect(await b.acquire(driverRequest('timeout', { waitMs: 200 }))).toBeNull()
    const abort = new AbortController()
    const waiting = b.acquire(driverRequest('timeout', { waitMs: 60_000, signal: abort.signal }))
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

  test('a very long TTL is applied to the session without errors', async () => {
    const a = driver()
    const lease = must(await a.acquire(driverRequest('long-ttl', { ttlMs: 1e12 })))
    expect((await a.renew(lease, 1e12)).ok).toBe(true)
    expect(await a.release(lease)).toBe(true)
  })

  test('renewMany confirms every lock with one heartbeat per session', async () => {
    const a = driver()
    const leases = await Promise.all(
      Array.from({ length: 50 }, (_, i) => a.acquire(driverRequest(`renew-${i}`))),
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
    const one = await a.acquire(driverRequest('lost-1'))
    const two = await a.acquire(driverRequest('lost-2'))
    const client = await rawClient(server.url)
    try {
      const [pid] = await holdersInSql(client, 'lost-1')
      await client.query('SELECT pg_terminate_backend($1)', [pid])
      await until(() => must(one).lost.aborted && must(two).lost.aborted)
      expect(String(must(one).lost.reason)).toContain('ended')
      expect((await a.renew(must(one), 10_000)).ok).toBe(false)
      expect(await a.release(must(two))).toBe(false)
      const again = await a.acquire(driverRequest('lost-1'))
      expect(must(again).fence > must(one).fence).toBe(true)
      await a.release(must(again))
    } finally {
      await client.end()
    }
  })

  test('inspect reads pg_locks; forceRelease terminates the holder session (and its other locks)', async () => {
    const a = driver()
    const b = driver()
    expect(await b.inspect('ops:one')).toBeNull()
    const one = must(await a.acquire(driverRequest('ops:one')))
    const two = must(await a.acquire(driverRequest('ops:two')))
    expect(await b.inspect('ops:one')).toEqual({ held: true, mode: 'exclusive', holders: 1 })
    expect(await a.inspect('ops:one')).toEqual({
      held: true,
      mode: 'exclusive',
      holders: 1,
      owner: one.owner,
      fence: one.fence,
    })
    expect(await b.forceRelease('ops:one')).toBe(true)
    await until(() => one.lost.aborted && two.lost.aborted)
    await until(async () => (await b.inspect('ops:one')) === null)
    expect(await b.forceRelease('ops:one')).toBe(false)
    expect(await a.release(one)).toBe(false)
  })
})

test('concurrent waiters open sessions; idle ones are closed after idleSessionMs, one stays', async () => {
  const holder = driver()
  const waiters = new PostgresDriver({ url: server.url, idleSessionMs: 300 })
  drivers.push(waiters)
  const keys = ['pool:a', 'pool:b', 'pool:c']
  const held = await Promise.all(keys.map((k) => holder.acquire(driverRequest(k))))
  const waiting = keys.map((k) => waiters.acquire(driverRequest(k, { waitMs: 10_000 })))
  await until(() => waiters.sessionCount >= keys.length)
  for (const lease of held) await holder.release(must(lease))
  const granted = await Promise.all(waiting)
  for (const lease of granted) await waiters.release(must(lease))
  await until(() => waiters.sessionCount === 1, 10_000)
  const again = must(await waiters.acquire(driverRequest('pool:a')))
  await waiters.release(again)
})

test('at maxSessions, further waiters fall back to bounded polling and still get their keys', async () => {
  const holder = driver()
  const waiters = new PostgresDriver({ url: server.url, maxSessions: 2 })
  drivers.push(waiters)
  const keys = ['cap:a', 'cap:b', 'cap:c', 'cap:d']
  const held = await Promise.all(keys.map((k) => holder.acquire(driverRequest(k))))
  const waiting = keys.map((k) => waiters.acquire(driverRequest(k, { waitMs: 15_000 })))
  await new Promise((r) => setTimeout(r, 300))
  expect(waiters.sessionCount).toBeLessThanOrEqual(2)
  for (const lease of held) await holder.release(must(lease))
  const granted = await Promise.all(waiting)
  expect(granted.every((l) => l !== null)).toBe(true)
  expect(waiters.sessionCount).toBeLessThanOrEqual(2)
  for (const lease of granted) await waiters.release(must(lease))
})

test('a statement answered by another backend pid is reported as transaction pooling', () => {
  const session = new LockSession({}, lockStatements('public', 'baton_fence'), () => {})
  session.pid = 4242
  assertSameBackend(session, 4242)
  expect(session.pidConfirmed).toBe(true)
  expect(() => assertSameBackend(session, 4343)).toThrow(/pooler in transaction mode/)
})

describe('session liveness mapping', () => {
  test('maps ttlMs onto idle_session_timeout, tcp_user_timeout and keepalives (PG 14+)', () => {
    const settings = Object.fromEntries(sessionLiveness(30_000, 150_004).settings)
    expect(settings).toMatchObject({
      idle_session_timeout: '30000',
      tcp_user_timeout: '30000',
      tcp_keepalives_idle: '15',
      tcp_keepalives_interval: '5',
      tcp_keepalives_count: '3',
      client_connection_check_interval: '1000',
    })
    const keepaliveSeconds =
      Number(settings.tcp_keepalives_idle) +
      Number(settings.tcp_keepalives_interval) * Number(settings.tcp_keepalives_count)
    expect(keepaliveSeconds).toBeLessThanOrEqual(30)
  })

  test('leaves out settings an older server does not know, and floors keepalives at whole seconds', () => {
    const settings = Object.fromEntries(sessionLiveness(300, 130_010).settings)
    expect(settings.idle_session_timeout).toBeUndefined()
    expect(settings.client_connection_check_interval).toBeUndefined()
    expect(settings.tcp_user_timeout).toBe('300')
    expect(Number(settings.tcp_keepalives_idle)).toBeGreaterThanOrEqual(1)
  })

  test('a TTL beyond the server range is clamped to the longest the settings take', () => {
    const settings = Object.fromEntries(sessionLiveness(1e12, 150_000).settings)
    expect(settings.idle_session_timeout).toBe('2147483647')
    expect(settings.tcp_user_timeout).toBe('2147483647')
    expect(Number(settings.tcp_keepalives_idle)).toBeLessThanOrEqual(32_767)
    expect(Number(settings.tcp_keepalives_interval)).toBeLessThanOrEqual(32_767)
  })

  test('server_version strings become server_version_num', () => {
    expect(versionNumber('15.4 (Debian 15.4-1.pgdg120+1)')).toBe(150_004)
    expect(versionNumber('17beta1')).toBe(170_001)
    expect(versionNumber('9.6.24')).toBe(90_624)
  })

  test('the fence sequence name is quoted, so any identifier is safe', () => {
    expect(quoteIdent('a"b')).toBe('"a""b"')
    expect(lockStatements('my schema', "x'y").tryLock).toContain(`nextval('"my schema"."x''y"')`)
  })
})
