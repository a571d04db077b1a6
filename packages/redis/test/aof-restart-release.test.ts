import { isLockError, Locker, type LockLostError } from '@baton-lock/core'
import { uniqueKey } from '@baton-lock/core/driver'
import { type ServerHandle, startRedis } from '@baton-lock/test-matrix'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { DriverPool } from './helpers.js'

// Issue 13 item 2: on an AOF server the lock key survives a restart; the holder's lease is
// lost (run_id changed), and the key it may still hold must be freed owner-checked, so that
// a waiter is granted right after the restart instead of one TTL later.

const TTL_MS = 10_000

let server: ServerHandle
const pool = new DriverPool()
beforeAll(async () => {
  server = await startRedis({ appendonly: true })
})
afterEach(() => pool.closeAll())
afterAll(async () => {
  await server?.stop()
})

describe('AOF server restart with a holder and a waiter', () => {
  it('the waiter is granted well under the TTL after the holder releases its lost lease', async () => {
    const holderDriver = await pool.connect(server.url)
    expect(holderDriver.capabilities.fencing).toBe('durable')
    const waiterDriver = await pool.connect(server.url)
    const holder = new Locker(holderDriver, { ttlMs: TTL_MS, closeDriver: false })
    const waiter = new Locker(waiterDriver, { ttlMs: TTL_MS, closeDriver: false })
    const key = uniqueKey('aof')
    const held = await holder.acquire(key)
    const waiting = waiter.acquire(key, { waitMs: 3 * TTL_MS })
    await expect.poll(() => waiterDriver.waiting).toBe(1)
    await server.restart()
    const restartedAt = performance.now()
    await holderDriver.client.ping().catch(() => undefined) // let the client notice the restart
    await expect.poll(() => held.signal.aborted, { timeout: 5_000 }).toBe(true)
    expect(isLockError(held.signal.reason, 'LOCK_LOST')).toBe(true)
    expect((held.signal.reason as LockLostError).reason).toBe('driver')
    await held.release()
    const releasedAt = performance.now()
    const got = await waiting
    const grantedMs = performance.now() - releasedAt
    const sinceRestartMs = performance.now() - restartedAt
    console.log(
      `AOF restart: waiter granted ${grantedMs.toFixed(0)} ms after the holder's release, ${sinceRestartMs.toFixed(0)} ms after the restart`,
    )
    expect(grantedMs).toBeLessThan(3_000)
    expect(got.fence).toBeGreaterThan(held.fence) // durable fences keep increasing
    await got.release()
    await Promise.all([holder.close(), waiter.close()])
  })

  it('a lost lease whose key another owner took meanwhile is left alone (S2)', async () => {
    const holderDriver = await pool.connect(server.url)
    const otherDriver = await pool.connect(server.url)
    const holder = new Locker(holderDriver, { ttlMs: TTL_MS, closeDriver: false })
    const other = new Locker(otherDriver, { ttlMs: TTL_MS, closeDriver: false })
    const key = uniqueKey('aof-s2')
    const held = await holder.acquire(key)
    await server.restart()
    // An operator frees the restored key and another owner takes it (perhaps before the
    // holder's driver notices the restart): the holder's clean-up must not free it.
    await otherDriver.client.ping().catch(() => undefined)
    await expect.poll(() => otherDriver.client.status, { timeout: 5_000 }).toBe('ready')
    await otherDriver.forceRelease(key)
    const taken = await other.acquire(key, { waitMs: 5_000 })
    await holderDriver.client.ping().catch(() => undefined)
    await expect.poll(() => held.signal.aborted, { timeout: 5_000 }).toBe(true)
    await held.release()
    const info = await otherDriver.inspect(key)
    expect(info?.owner).toBe(taken.owner)
    expect(taken.isValid()).toBe(true)
    await taken.release()
    await Promise.all([holder.close(), other.close()])
  })
})
