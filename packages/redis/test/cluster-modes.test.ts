import type { DriverLease } from '@baton-lock/core'
import { driverRequest, LockLimitMismatchError, uniqueKey } from '@baton-lock/core/driver'
import { lockKeys, RedisDriver, semaphoreKeys } from '@baton-lock/redis'
import { startRedisCluster } from '@baton-lock/test-matrix'
import { Cluster } from 'ioredis'
import { afterAll, describe, expect, it } from 'vitest'
import { slotOf } from '../src/cluster-topology.js'

// The shared-lock and semaphore scripts on a Redis Cluster (3 masters): every key of one
// lock or semaphore is in one slot, and the calls that span keys are split per slot.

const cluster = await startRedisCluster({ masters: 3, replicas: 0 })
const raw = new Cluster([...cluster.seeds], { redisOptions: { commandTimeout: 5_000 } })
const drivers: RedisDriver[] = []
afterAll(async () => {
  await Promise.allSettled(drivers.map((d) => d.close()))
  raw.disconnect()
  await cluster.stop()
})

async function driver(): Promise<RedisDriver> {
  const d = await RedisDriver.connect({ url: cluster.url, onWarning: () => {} })
  drivers.push(d)
  return d
}

function granted(lease: DriverLease | null): DriverLease {
  expect(lease).not.toBeNull()
  return lease as DriverLease
}

describe('new modes on a Redis Cluster', () => {
  it('keeps every name of a lock and of a semaphore in the slot of its hash tag', () => {
    for (const key of ['a', 'b{x}', 'ключ']) {
      const names = [
        ...Object.values(lockKeys('baton', key)),
        ...Object.values(semaphoreKeys('baton', key)),
      ]
      expect(new Set(names.map(slotOf)).size).toBe(1)
    }
  })

  it('grants shared, exclusive and semaphore leases on keys across all masters; renewMany and release split per slot; nothing left but fences (H1)', async () => {
    const [a, b] = [await driver(), await driver()]
    const base = uniqueKey('cl-modes')
    const keys = Array.from({ length: 24 }, (_, i) => `${base}:${i}`)
    expect(new Set(keys.map((k) => slotOf(lockKeys('baton', k).lock))).size).toBeGreaterThan(12)
    const leases: DriverLease[] = []
    for (const k of keys) {
      leases.push(granted(await a.acquire(driverRequest(k, { mode: 'shared' }))))
      granted(await b.acquire(driverRequest(k, { mode: 'shared' }))) // b keeps its share
      expect(await b.acquire(driverRequest(k))).toBeNull()
      leases.push(granted(await a.acquire(driverRequest(k, { mode: 'semaphore', limit: 1 }))))
      expect(await b.acquire(driverRequest(k, { mode: 'semaphore', limit: 1 }))).toBeNull()
      await expect(
        b.acquire(driverRequest(k, { mode: 'semaphore', limit: 2 })),
      ).rejects.toBeInstanceOf(LockLimitMismatchError)
    }
    const renewed = await a.renewMany(leases, 8_000)
    expect(renewed.every((r) => r.ok)).toBe(true)
    for (const k of keys) {
      expect(await b.inspect(k)).toMatchObject({ mode: 'shared', holders: 2 })
      expect(await b.inspect(k, 'semaphore')).toMatchObject({ holders: 1, limit: 1 })
    }
    await a.close() // releases its shares and permits per slot
    for (const k of keys) {
      expect(await b.inspect(k)).toMatchObject({ mode: 'shared', holders: 1 })
      expect(await b.inspect(k, 'semaphore')).toBeNull()
    }
    await b.close()
    for (const k of keys) {
      const l = lockKeys('baton', k)
      const s = semaphoreKeys('baton', k)
      const left = await Promise.all(
        [
          l.lock,
          l.queue,
          l.waiters,
          l.readers,
          l.owners,
          s.holders,
          s.queue,
          s.waiters,
          s.owners,
        ].map((name) => raw.exists(name)),
      )
      expect(left.every((n) => n === 0)).toBe(true)
      expect(await raw.exists(l.fence, s.fence)).toBe(2)
    }
  })

  it('hands over between modes with push wake-ups (R2 order) on a cluster', async () => {
    const [a, b] = [await driver(), await driver()]
    const key = uniqueKey('cl-r2')
    const { queue } = lockKeys('baton', key)
    const r1 = granted(await a.acquire(driverRequest(key, { mode: 'shared' })))
    const w = b.acquire(driverRequest(key, { waitMs: 20_000 }))
    await expect.poll(() => raw.llen(queue), { timeout: 10_000, interval: 5 }).toBe(1)
    const r2 = a.acquire(driverRequest(key, { mode: 'shared', waitMs: 20_000 }))
    await expect.poll(() => raw.llen(queue), { timeout: 10_000, interval: 5 }).toBe(2)
    await a.release(r1)
    const writer = granted(await w)
    expect(writer.fence).toBe(2n)
    await b.release(writer)
    const reader = granted(await r2)
    expect(reader.fence).toBe(3n)
    await a.release(reader)
    const sem = semaphoreKeys('baton', key)
    const p1 = granted(await a.acquire(driverRequest(key, { mode: 'semaphore', limit: 1 })))
    const p2 = b.acquire(driverRequest(key, { mode: 'semaphore', limit: 1, waitMs: 20_000 }))
    await expect.poll(() => raw.llen(sem.queue), { timeout: 10_000, interval: 5 }).toBe(1)
    await a.release(p1)
    const got = granted(await p2)
    expect(got.fence).toBe(2n)
    await b.release(got)
  })
})
