import { Locker, type LockHandle } from '@baton-lock/core'
import { type ServerHandle, startRedis } from '@baton-lock/test-matrix'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { DriverPool, scriptCalls } from './helpers.js'

const LOCKS = 10_000
let server: ServerHandle
let raw: Redis
const pool = new DriverPool()

beforeAll(async () => {
  server = await startRedis()
  raw = new Redis(server.url)
})
afterAll(async () => {
  await pool.closeAll()
  raw?.disconnect()
  await server?.stop()
})

it(`${LOCKS} held locks are renewed with a handful of round trips per interval`, async () => {
  const ttlMs = 3_000 // renewed every ~1 s
  const driver = await pool.connect(server.url, { commandTimeoutMs: 10_000 })
  let renewManyCalls = 0
  const renewMany = driver.renewMany.bind(driver)
  driver.renewMany = (leases, ttl) => {
    renewManyCalls++
    return renewMany(leases, ttl)
  }
  const locker = new Locker(driver, { ttlMs, closeDriver: false, namespace: 'scale' })
  const heapBefore = process.memoryUsage().heapUsed
  const serverBefore = Number(/used_memory:(\d+)/.exec(await raw.info('memory'))?.[1])
  const handles: LockHandle[] = []
  for (let i = 0; i < LOCKS; i += 1_000) {
    const batch = Array.from({ length: 1_000 }, (_, j) =>
      locker.acquire(`job-${i + j}`, { waitMs: 30_000 }),
    )
    handles.push(...(await Promise.all(batch)))
  }
  const heapPerLock = (process.memoryUsage().heapUsed - heapBefore) / LOCKS
  const serverPerLock =
    (Number(/used_memory:(\d+)/.exec(await raw.info('memory'))?.[1]) - serverBefore) / LOCKS

  const intervals = 3
  const scriptsBefore = await scriptCalls(raw)
  const callsBefore = renewManyCalls
  const windowStart = performance.now()
  await new Promise((resolve) => setTimeout(resolve, (intervals * ttlMs) / 3))
  const windowMs = performance.now() - windowStart
  const calls = renewManyCalls - callsBefore
  // The window's own INFO calls are not scripts; every script call here is a renewal.
  const scripts = (await scriptCalls(raw)) - scriptsBefore
  console.log(
    `redis scale: ${LOCKS} locks, ${calls} renewMany calls (round trips) and ${scripts} script calls in ${Math.round(windowMs)} ms (${intervals} renewal intervals); ` +
      `client heap ~${Math.round(heapPerLock)} B/lock, server ~${Math.round(serverPerLock)} B/lock`,
  )
  expect(calls).toBeGreaterThanOrEqual(intervals - 1) // renewal did happen
  expect(calls / intervals).toBeLessThanOrEqual(6) // a handful per interval, not one per lock
  expect(scripts / intervals).toBeLessThanOrEqual(6 * Math.ceil(LOCKS / 500))
  expect(handles.every((h) => h.isValid())).toBe(true)
  await locker.close()
  expect(await raw.dbsize()).toBe(LOCKS) // only the fence hashes remain
}, 120_000)
