import { driverRequest } from '@baton-lock/core/driver'
import { startMariadb } from '@baton-lock/test-matrix'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { lockName, MysqlDriver } from '../src/index.js'
import { holderOfName, must, rawConnection, sql, until } from './driver-helpers.js'
import { type StatementInjector, startInjector } from './statement-injector.js'

// How the driver spreads statements over its sessions (mysql2 runs one statement at a
// time per connection), and the server-side prepared fence bump of a wait.

let server: Awaited<ReturnType<typeof startMariadb>>
let injector: StatementInjector
let admin: Awaited<ReturnType<typeof rawConnection>>

beforeAll(async () => {
  server = await startMariadb()
  injector = await startInjector(server.host, server.port)
  admin = await rawConnection(server.url)
})
afterAll(async () => {
  admin?.destroy()
  await injector?.close()
  await server?.stop()
})

const holderOf = (key: string) => holderOfName(admin, lockName(key))

describe('MySQL lock sessions', () => {
  it('independent keys used at once spread over more than one session, at most maxTrySessions, and the extra ones close once idle', async () => {
    const driver = new MysqlDriver({ url: server.url, maxTrySessions: 4, idleSessionMs: 300 })
    try {
      await driver.ready()
      let most = 0
      let cycles = 0
      const deadlineMs = performance.now() + 1_000
      await Promise.all(
        Array.from({ length: 16 }, async (_, i) => {
          while (performance.now() < deadlineMs) {
            const lease = must(await driver.acquire(driverRequest(`spread:${i}`)))
            most = Math.max(most, driver.sessionCount)
            expect(await driver.release(lease)).toBe(true)
            cycles++
          }
        }),
      )
      console.info(`mysql: 16 keys at once, ${cycles} cycles on at most ${most} sessions`)
      expect(most).toBeGreaterThan(1)
      expect(most).toBeLessThanOrEqual(4)
      await until(() => driver.sessionCount === 1, 5_000)
    } finally {
      await driver.close()
    }
  })

  it('locks taken one after another concentrate on one session', async () => {
    const driver = new MysqlDriver({ url: server.url })
    try {
      const leases = []
      for (let i = 0; i < 32; i++) {
        leases.push(must(await driver.acquire(driverRequest(`concentrate:${i}`))))
      }
      expect(driver.sessionCount).toBe(1)
      const holders = new Set(await Promise.all(leases.map((_, i) => holderOf(`concentrate:${i}`))))
      expect(holders.size).toBe(1)
      for (const lease of leases) expect(await driver.release(lease)).toBe(true)
    } finally {
      await driver.close()
    }
  })

  it('maxTrySessions must be an integer from 1 to maxSessions', () => {
    for (const maxTrySessions of [0, 1.5, 9]) {
      expect(() => new MysqlDriver({ url: server.url, maxSessions: 8, maxTrySessions })).toThrow(
        RangeError,
      )
    }
    expect(() => new MysqlDriver({ url: server.url, maxSessions: 2 })).not.toThrow()
  })

  it('a wait whose prepared fence bump was dropped behind its back fails holding nothing (S4), and the next wait prepares it again', async () => {
    const url = new URL(server.url)
    url.port = String(injector.port)
    const driver = new MysqlDriver({ url: url.href })
    const key = 'spread:prepared'
    const name = lockName(key)
    // a raw client holds the name, the driver waits for it server-side, the raw client lets go
    const waitThrough = async () => {
      await sql(admin, 'SELECT GET_LOCK(?, 0)', [name])
      const waiting = driver.acquire(driverRequest(key, { waitMs: 10_000 }))
      waiting.catch(() => {})
      await until(async () => {
        const rows = await sql(
          admin,
          "SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE STATE = 'User lock'",
        )
        return Number(rows[0]?.n) > 0
      })
      await sql(admin, 'SELECT RELEASE_LOCK(?)', [name])
      return waiting
    }
    try {
      // the fence table exists and the session prepared its bump
      must(await driver.acquire(driverRequest('spread:table')))
      const first = must(await waitThrough())
      expect(await driver.release(first)).toBe(true)
      // the relay drops the prepared statement on every idle session, as a proxy's reset would
      await injector.inject('DEALLOCATE PREPARE baton_wait_bump')
      await expect(waitThrough()).rejects.toMatchObject({ errno: 1243 })
      // the wait was granted before the bump failed: the driver released it
      await until(async () => (await holderOf(key)) === null, 2_000)
      const again = must(await waitThrough())
      expect(again.fence).toBeGreaterThan(first.fence)
      expect(await holderOf(key)).not.toBeNull()
      expect(await driver.release(again)).toBe(true)
    } finally {
      await driver.close()
    }
  })
})
