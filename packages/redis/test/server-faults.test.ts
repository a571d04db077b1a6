import { isLockError, Locker, type LockHandle, LockLostError } from '@baton-lock/core'
import { uniqueKey } from '@baton-lock/core/driver'
import { type ServerHandle, startRedis } from '@baton-lock/test-matrix'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { DriverPool } from './helpers.js'

const pool = new DriverPool()
afterEach(() => pool.closeAll())

function abortTimes(handles: LockHandle[]): number[] {
  const times: number[] = []
  for (const h of handles) h.signal.addEventListener('abort', () => times.push(performance.now()))
  return times
}

describe('server restart', () => {
  let volatile: ServerHandle
  let durable: ServerHandle
  beforeAll(async () => {
    ;[volatile, durable] = await Promise.all([startRedis(), startRedis({ appendonly: true })])
  })
  afterAll(async () => {
    await Promise.all([volatile?.stop(), durable?.stop()])
  })

  it('volatile server: a restart aborts every holder signal (run_id changed)', async () => {
    const driver = await pool.connect(volatile.url)
    expect(driver.capabilities.fencing).toBe('volatile')
    const locker = new Locker(driver, { ttlMs: 30_000, closeDriver: false })
    const handles = await Promise.all([1, 2, 3].map((i) => locker.acquire(uniqueKey(`r${i}`))))
    await volatile.restart()
    await driver.client.ping().catch(() => undefined) // let the client notice the restart
    for (const h of handles) {
      await expect.poll(() => h.signal.aborted, { timeout: 5_000 }).toBe(true)
      expect(h.signal.reason).toBeInstanceOf(LockLostError)
      expect((h.signal.reason as LockLostError).reason).toBe('driver')
    }
    await locker.close()
  })

  it('volatile server: a waiter rides out the restart and gets the lock the restart freed', async () => {
    const holder = new Locker(await pool.connect(volatile.url), {
      ttlMs: 30_000,
      closeDriver: false,
    })
    const waiterDriver = await pool.connect(volatile.url)
    const waiter = new Locker(waiterDriver, { ttlMs: 30_000, closeDriver: false })
    const key = uniqueKey('ride')
    const held = await holder.acquire(key)
    const waiting = waiter.acquire(key, { waitMs: 20_000 })
    await expect.poll(() => waiterDriver.waiting).toBe(1)
    const restartedAt = performance.now()
    await volatile.restart()
    const got = await waiting
    expect(performance.now() - restartedAt).toBeLessThan(10_000) // not the holder's 30 s TTL
    expect(got.fence).toBe(1n) // volatile: the counters went with the restart
    await expect.poll(() => held.signal.aborted, { timeout: 5_000 }).toBe(true)
    await got.release()
    await Promise.all([holder.close(), waiter.close()])
  })

  it('AOF server: fencing is durable, fences keep increasing across a restart, holders still abort', async () => {
    const driver = await pool.connect(durable.url)
    expect(driver.capabilities.fencing).toBe('durable')
    const locker = new Locker(driver, { ttlMs: 30_000, closeDriver: false })
    const key = uniqueKey('durable')
    const first = await locker.acquire(key)
    await durable.restart()
    await driver.client.ping().catch(() => undefined)
    await expect.poll(() => first.signal.aborted, { timeout: 5_000 }).toBe(true)
    await first.release()
    // The restored key is still there until its TTL; take it over with forceRelease.
    await driver.forceRelease(key)
    const second = await locker.acquire(key, { waitMs: 5_000 })
    expect(second.fence).toBeGreaterThan(first.fence)
    await locker.close()
  })
})

describe('server paused (SIGSTOP) longer than the TTL', () => {
  let server: ServerHandle
  beforeAll(async () => {
    server = await startRedis()
  })
  afterAll(async () => {
    await server?.resume().catch(() => undefined)
    await server?.stop()
  })

  it('every holder signal aborts by validUntil', async () => {
    const ttlMs = 1_000
    const driver = await pool.connect(server.url, { commandTimeoutMs: 300 })
    const locker = new Locker(driver, { ttlMs, closeDriver: false })
    const handles: LockHandle[] = []
    const grantedAt: number[] = []
    for (let i = 0; i < 3; i++) {
      handles.push(await locker.acquire(uniqueKey(`p${i}`)))
      grantedAt.push(performance.now())
    }
    const aborted = abortTimes(handles)
    await server.pause()
    try {
      await expect.poll(() => aborted.length, { timeout: 10 * ttlMs }).toBe(3)
      // validUntil < grant time + ttl; generous slack for timers on a loaded machine.
      for (const [i, h] of handles.entries()) {
        const abortAt = aborted[i] as number
        expect(h.isValid()).toBe(false)
        expect(isLockError(h.signal.reason, 'LOCK_LOST')).toBe(true)
        expect(abortAt - (grantedAt[i] as number)).toBeLessThanOrEqual(ttlMs + 250)
      }
    } finally {
      await server.resume()
    }
    await locker.close()
  })
})
