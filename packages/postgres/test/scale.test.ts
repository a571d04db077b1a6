import { driverRequest } from '@baton-lock/core/driver'
import { startPostgres } from '@baton-lock/test-matrix'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { PostgresDriver } from '../src/index.js'
import { must, rawClient } from './driver-helpers.js'

let server: Awaited<ReturnType<typeof startPostgres>>

beforeAll(async () => {
  server = await startPostgres()
})
afterAll(async () => {
  await server?.stop()
})

test('10,000 held locks live on a handful of sessions and renew with one heartbeat per session', async () => {
  const driver = new PostgresDriver({ url: server.url, idleSessionMs: 60_000 })
  const client = await rawClient(server.url)
  const count = 10_000
  try {
    const heapBefore = process.memoryUsage().heapUsed
    const leases = []
    const startMs = performance.now()
    for (let i = 0; i < count; i += 500) {
      const batch = Array.from({ length: Math.min(500, count - i) }, (_, j) =>
        driver.acquire(driverRequest(`scale:${i + j}`, { ttlMs: 30_000 })),
      )
      for (const lease of await Promise.all(batch)) leases.push(must(lease))
    }
    const acquireMs = performance.now() - startMs
    const heapPerLockBytes = (process.memoryUsage().heapUsed - heapBefore) / count
    const { rows } = await client.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'baton'",
    )
    const sessions = rows[0]?.n ?? 0
    const held = await client.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND granted",
    )
    expect(held.rows[0]?.n).toBe(count)
    expect(sessions).toBeGreaterThan(0)
    expect(sessions).toBeLessThanOrEqual(8)
    expect(driver.sessionCount).toBe(sessions)
    const renewStart = performance.now()
    const results = await driver.renewMany(leases, 30_000)
    const renewMs = performance.now() - renewStart
    expect(results.filter((r) => r.ok).length).toBe(count)
    console.info(
      `postgres: ${count} locks on ${sessions} sessions; acquired in ${Math.round(acquireMs)} ms, ` +
        `renewMany ${Math.round(renewMs)} ms, ~${Math.round(heapPerLockBytes)} heap bytes per lock`,
    )
    for (let i = 0; i < leases.length; i += 500) {
      await Promise.all(leases.slice(i, i + 500).map((l) => driver.release(l)))
    }
    const after = await client.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory'",
    )
    expect(after.rows[0]?.n).toBe(0)
  } finally {
    await driver.close()
    await client.end()
  }
})
