import type { DriverLease } from '@baton-lock/core/driver'
import { driverRequest } from '@baton-lock/core/driver'
import { startMariadb } from '@baton-lock/test-matrix'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { MysqlDriver } from '../src/index.js'
import { must, rawConnection, sql } from './driver-helpers.js'

let server: Awaited<ReturnType<typeof startMariadb>>

beforeAll(async () => {
  server = await startMariadb()
})
afterAll(async () => {
  await server?.stop()
})

/** Statements the server received from all clients so far (`Questions`). */
async function questions(admin: Awaited<ReturnType<typeof rawConnection>>): Promise<number> {
  const [row] = await sql(admin, "SHOW GLOBAL STATUS LIKE 'Questions'")
  return Number(row?.Value)
}

test('10,000 held locks live on a handful of sessions and renew with one statement per session', async () => {
  const driver = new MysqlDriver({ url: server.url, idleSessionMs: 60_000 })
  const admin = await rawConnection(server.url)
  const count = 10_000
  const inFlight = 48
  try {
    const leases: DriverLease[] = []
    const startMs = performance.now()
    for (let i = 0; i < count; i += inFlight) {
      const batch = Array.from({ length: Math.min(inFlight, count - i) }, (_, j) =>
        driver.acquire(driverRequest(`scale:${i + j}`, { ttlMs: 30_000 })),
      )
      for (const lease of await Promise.all(batch)) leases.push(must(lease))
    }
    const acquireMs = performance.now() - startMs
    const [held] = await sql(
      admin,
      'SELECT COUNT(*) AS n FROM baton_fence WHERE IS_USED_LOCK(name) IS NOT NULL',
    )
    expect(Number(held?.n)).toBe(count)
    const sessions = driver.sessionCount
    expect(sessions).toBeGreaterThan(0)
    expect(sessions).toBeLessThanOrEqual(8)
    const before = await questions(admin)
    const renewStart = performance.now()
    const results = await driver.renewMany(leases, 30_000)
    const renewMs = performance.now() - renewStart
    const statements = (await questions(admin)) - before - 1
    expect(results.filter((r) => r.ok).length).toBe(count)
    // one heartbeat statement per session confirms all of its locks
    expect(statements).toBeLessThanOrEqual(sessions)
    console.info(
      `mysql: ${count} locks on ${sessions} sessions; acquired in ${Math.round(acquireMs)} ms ` +
        `(${inFlight} in flight), renewMany ${Math.round(renewMs)} ms in ${statements} statements`,
    )
    for (let i = 0; i < leases.length; i += inFlight) {
      await Promise.all(leases.slice(i, i + inFlight).map((l) => driver.release(l)))
    }
    const [after] = await sql(
      admin,
      'SELECT COUNT(*) AS n FROM baton_fence WHERE IS_USED_LOCK(name) IS NOT NULL',
    )
    expect(Number(after?.n)).toBe(0)
  } finally {
    await driver.close()
    admin.destroy()
  }
}, 120_000)
