import { isLockError, Locker, type LockLostError } from '@baton-lock/core'
import { driverRequest, uniqueKey } from '@baton-lock/core/driver'
import { lockKeys, RedisDriver } from '@baton-lock/redis'
import { type ServerHandle, startRedisSentinel } from '@baton-lock/test-matrix'
import { Redis } from 'ioredis'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { DriverPool } from './helpers.js'

// One master with AOF, one replica, three sentinels (quorum 2, down-after 1 s).
const TTL_MS = 20_000
const deployment = await startRedisSentinel({ appendonly: true, replicas: 1, downAfterMs: 1_000 })
const pool = new DriverPool()
afterEach(() => pool.closeAll())
afterAll(async () => {
  await pool.closeAll()
  await deployment.stop()
})

describe('redis+sentinel://', () => {
  it('connects through the sentinels to the master; fences are volatile (a failover may roll back)', async () => {
    const driver = await pool.connect(deployment.url)
    const master = await deployment.currentMaster()
    expect(driver.capabilities.fencing).toBe('volatile')
    const key = uniqueKey('sentinel')
    const lease = await driver.acquire(driverRequest(key, { ttlMs: 5_000 }))
    expect(lease).not.toBeNull()
    // The lock key is on the master the sentinels name.
    const direct = new Redis(master.port, master.host)
    expect(await direct.get(lockKeys('baton', key).lock)).toBe(lease?.owner)
    direct.disconnect()
    if (lease) expect(await driver.release(lease)).toBe(true)
  })

  it('grants shared locks and semaphore permits on the master, with hand-overs by PUBLISH', async () => {
    const [a, b] = [await pool.connect(deployment.url), await pool.connect(deployment.url)]
    const key = uniqueKey('sentinel-modes')
    const r1 = await a.acquire(driverRequest(key, { mode: 'shared' }))
    const r2 = await b.acquire(driverRequest(key, { mode: 'shared' }))
    expect(r1 && r2).not.toBeNull()
    const writer = b.acquire(driverRequest(key, { waitMs: 20_000 }))
    await expect.poll(() => b.waiting).toBe(1)
    if (r1) await a.release(r1)
    if (r2) await b.release(r2)
    const w = await writer
    expect(w?.fence).toBe(3n)
    if (w) await b.release(w)
    const p1 = await a.acquire(driverRequest(key, { mode: 'semaphore', limit: 1 }))
    expect(p1?.fence).toBe(1n)
    expect(await b.acquire(driverRequest(key, { mode: 'semaphore', limit: 1 }))).toBeNull()
    expect(await b.inspect(key, 'semaphore')).toMatchObject({ holders: 1, limit: 1 })
    if (p1) await a.release(p1)
  })

  it('rejects a sentinel URL without a master name, without echoing the URL', () => {
    expect(() => new RedisDriver({ url: 'redis+sentinel://:s3cr3t@127.0.0.1:1' })).toThrow(
      /masterName/,
    )
    try {
      new RedisDriver({ url: 'redis+sentinel://:s3cr3t@127.0.0.1:1' })
    } catch (err) {
      expect(String(err)).not.toContain('s3cr3t')
    }
  })

  it('master kill: after the failover every held lease is lost, a waiter gets the key, fences keep increasing (replicated)', async () => {
    const holderDriver = await pool.connect(deployment.url)
    const waiterDriver = await pool.connect(deployment.url)
    const holder = new Locker(holderDriver, { ttlMs: TTL_MS, closeDriver: false })
    const waiter = new Locker(waiterDriver, { ttlMs: TTL_MS, closeDriver: false })
    const key = uniqueKey('sentinel-failover')
    const held = await holder.acquire(key)
    const old = await deployment.currentMaster()
    const victim = deployment.servers.find((s) => s.port === old.port) as ServerHandle
    // WAIT 1: the grant and its fence reached the replica before the master dies.
    const direct = new Redis(old.port, old.host)
    expect(await direct.wait(1, 5_000)).toBe(1)
    const waiting = waiter.acquire(key, { waitMs: 3 * TTL_MS })
    await expect.poll(() => waiterDriver.waiting).toBe(1)
    // ... and its first try reached the master (it queued there): later tries ride out errors.
    await expect.poll(() => direct.llen(lockKeys('baton', key).queue)).toBe(1)
    expect(await direct.wait(1, 5_000)).toBe(1)
    direct.disconnect()
    const killedAt = performance.now()
    await victim.kill()
    try {
      const promoted = await deployment.waitForFailover(old.port, 30_000)
      const failoverMs = performance.now() - killedAt
      // The client reconnects to the new master, sees another run id, and loses every lease.
      await expect.poll(() => held.signal.aborted, { timeout: TTL_MS / 2 }).toBe(true)
      const lostMs = performance.now() - killedAt
      expect(isLockError(held.signal.reason, 'LOCK_LOST')).toBe(true)
      expect((held.signal.reason as LockLostError).reason).toBe('driver')
      await held.release() // owner-checked: frees the replicated key at once
      const got = await waiting
      const grantedMs = performance.now() - killedAt
      expect(got.fence).toBeGreaterThan(held.fence)
      const onNew = new Redis(promoted.port, promoted.host)
      expect(await onNew.get(lockKeys('baton', key).lock)).toBe(got.owner)
      onNew.disconnect()
      console.info(
        `[sentinel failover] new master after ${Math.round(failoverMs)} ms, holder told lost after ${Math.round(lostMs)} ms, waiter granted after ${Math.round(grantedMs)} ms`,
      )
      expect(grantedMs).toBeLessThan(TTL_MS) // not the TTL: the lost lease was freed
      await got.release()
    } finally {
      await Promise.all([holder.close(), waiter.close()])
      // The old master comes back as a replica of the new one (sentinel reconfigures it).
      await victim.restart()
    }
  }, 90_000)
})
