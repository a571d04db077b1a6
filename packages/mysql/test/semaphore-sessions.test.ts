import type { DriverLease } from '@baton-lock/core'
import { driverRequest, LockLimitMismatchError, uniqueKey } from '@baton-lock/core/driver'
import { startMariadb } from '@baton-lock/test-matrix'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { MysqlDriver, semaphoreNames } from '../src/index.js'
import { rawConnection, sql, until } from './driver-helpers.js'

// Semaphore permits and the sessions that hold them: one session never holds two slots of
// one semaphore (GET_LOCK re-enters within a session), a try that got nothing leaves its
// session free for the next try, and holders of another limit are seen on every slot they
// may hold, not only on the slots of the caller's limit.
let server: Awaited<ReturnType<typeof startMariadb>>
let admin: Awaited<ReturnType<typeof rawConnection>>
const drivers: MysqlDriver[] = []

beforeAll(async () => {
  server = await startMariadb()
  admin = await rawConnection(server.url)
}, 240_000)
afterEach(async () => {
  for (const d of drivers.splice(0)) await d.close()
})
afterAll(async () => {
  admin?.destroy()
  await server?.stop()
})

function open(options: { maxSessions?: number } = {}): MysqlDriver {
  const driver = new MysqlDriver({ url: server.url, ...options })
  drivers.push(driver)
  return driver
}
const permit = (key: string, limit: number, o = {}) =>
  driverRequest(key, { mode: 'semaphore', limit, ttlMs: 10_000, ...o })
async function granted(p: Promise<DriverLease | null>): Promise<DriverLease> {
  const lease = await p
  expect(lease).not.toBeNull()
  return lease as DriverLease
}
/** The connection ids holding slots 0..count-1 of `key`, read by an outside client (null: free). */
async function slotHolders(key: string, count: number): Promise<Array<number | null>> {
  const names = semaphoreNames(key)
  const ids: Array<number | null> = []
  for (let i = 0; i < count; i++) {
    const [row] = await sql(admin, 'SELECT IS_USED_LOCK(?) AS id', [names.slot(i)])
    ids.push(row?.id == null ? null : Number(row.id))
  }
  return ids
}

describe('MySQL semaphore permits and sessions', () => {
  it('M1: permits taken one after another on one driver each hold their own slot on their own connection', async () => {
    const d = open()
    const key = uniqueKey('sem-sequential')
    const leases = [
      await granted(d.acquire(permit(key, 3))),
      await granted(d.acquire(permit(key, 3))),
      await granted(d.acquire(permit(key, 3))),
    ]
    expect(await d.acquire(permit(key, 3))).toBeNull()
    const holders = await slotHolders(key, 3)
    expect(holders.every((id) => id !== null)).toBe(true)
    expect(new Set(holders).size).toBe(3)
    expect(await d.inspect(key, 'semaphore')).toMatchObject({ holders: 3, limit: 3 })
    for (const l of leases) expect(await d.release(l)).toBe(true)
  })

  it('a try that found every permit taken leaves its session usable: with the fewest sessions, a later try gets the freed permit', async () => {
    const [a, b] = [open(), open({ maxSessions: 2 })]
    const key = uniqueKey('sem-one-session')
    const held = await granted(a.acquire(permit(key, 1)))
    for (let i = 0; i < 3; i++) expect(await b.acquire(permit(key, 1))).toBeNull()
    expect(await a.release(held)).toBe(true)
    const next = await granted(b.acquire(permit(key, 1)))
    expect(next.fence).toBeGreaterThan(held.fence)
    expect(await b.release(next)).toBe(true)
  })

  it('holders of a larger limit on a slot beyond the caller’s limit still make it a LockLimitMismatchError', async () => {
    const [a, b] = [open(), open()]
    const key = uniqueKey('sem-mismatch-high-slot')
    const leases = [
      await granted(a.acquire(permit(key, 3))),
      await granted(a.acquire(permit(key, 3))),
      await granted(a.acquire(permit(key, 3))),
    ]
    // keep only the permit on the highest slot
    const holders = await slotHolders(key, 3)
    expect(holders.every((id) => id !== null)).toBe(true)
    await a.release(leases[0] as DriverLease)
    await a.release(leases[1] as DriverLease)
    expect((await slotHolders(key, 3)).filter((id) => id !== null)).toHaveLength(1)
    const err = await b.acquire(permit(key, 2)).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(LockLimitMismatchError)
    expect(await slotHolders(key, 2)).toEqual([null, null]) // the try left no slot held
    await a.release(leases[2] as DriverLease)
    expect(await granted(b.acquire(permit(key, 2)))).toBeTruthy()
  })

  it('M1: a permit granted by a server-side wait keeps its session out of later tries of that semaphore', async () => {
    const [a, d] = [open(), open()]
    const key = uniqueKey('sem-waited-session')
    const held = await granted(a.acquire(permit(key, 1)))
    const waiting = d.acquire(permit(key, 1, { waitMs: 20_000 }))
    // d's session blocked in GET_LOCK on slot 0, as the server lists it
    await until(async () => {
      const [row] = await sql(
        admin,
        "SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE STATE = 'User lock' AND INFO LIKE ?",
        [`%${semaphoreNames(key).slot(0)}%`],
      )
      return Number(row?.n) === 1
    })
    expect(await a.release(held)).toBe(true)
    const waited = await granted(waiting)
    // the session that waited holds slot 0: GET_LOCK would re-enter it there
    for (let i = 0; i < 3; i++) expect(await d.acquire(permit(key, 1))).toBeNull()
    expect(await d.inspect(key, 'semaphore')).toMatchObject({ holders: 1 })
    expect(await d.release(waited)).toBe(true)
  })
})
