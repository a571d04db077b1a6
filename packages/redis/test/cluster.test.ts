import { Locker } from '@baton-lock/core'
import { runConformance } from '@baton-lock/core/conformance'
import { driverRequest, uniqueKey } from '@baton-lock/core/driver'
import { lockKeys, RedisDriver } from '@baton-lock/redis'
import { type ServerHandle, startRedisCluster } from '@baton-lock/test-matrix'
import { Cluster, Redis } from 'ioredis'
import { afterAll, describe, expect, it } from 'vitest'
import { slotOf } from '../src/cluster-topology.js'

// 3 masters + 3 replicas on loopback, cluster-node-timeout 1 s.
const cluster = await startRedisCluster({ masters: 3, replicas: 1, nodeTimeoutMs: 1_000 })
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

/** The member serving `slot` as master now. */
async function masterOf(slot: number): Promise<ServerHandle> {
  await raw.refreshSlotsCache?.()
  const shards = (await raw.cluster('SLOTS')) as unknown as Array<
    [number, number, [string, number]]
  >
  const shard = shards.find(([from, to]) => slot >= from && slot <= to)
  const port = shard?.[2][1]
  const member = cluster.members.find((m) => m.port === port)
  if (member === undefined) throw new Error(`no master for slot ${slot}`)
  return member
}

runConformance({
  name: 'redis cluster (3 masters + 3 replicas)',
  createDriver: () => RedisDriver.connect({ url: cluster.url, onWarning: () => {} }),
  faults: {
    dropLock: async (lock) => {
      await raw.del(lockKeys('baton', lock.key).lock)
    },
  },
})

/**
 * Set-up, not a check: waits (bounded) until a replica acknowledges the master's writes. A
 * master restarted by the previous test may still be in its full resync, and WAIT 1 then
 * answers 0 for a while.
 */
async function untilReplicaAcks(master: Redis): Promise<void> {
  const deadline = performance.now() + 60_000
  while ((await master.wait(1, 2_000)) !== 1) {
    if (performance.now() > deadline) throw new Error('no replica acknowledged within 60 s')
  }
}

describe('redis cluster', () => {
  it('accepts an injected ioredis Cluster with the safe options and no warning', async () => {
    const warnings: string[] = []
    const client = new Cluster([...cluster.seeds], {
      lazyConnect: true,
      enableOfflineQueue: false,
      redisOptions: {
        autoResendUnfulfilledCommands: false,
        maxRetriesPerRequest: 0,
        commandTimeout: 2_000,
      },
    })
    const d = await RedisDriver.connect({
      client,
      ownsClient: true,
      onWarning: (m) => warnings.push(m),
    })
    drivers.push(d)
    const lease = await d.acquire(driverRequest(uniqueKey('injected'), { ttlMs: 5_000 }))
    expect(lease).not.toBeNull()
    expect(await d.release(lease as NonNullable<typeof lease>)).toBe(true)
    expect(warnings).toEqual([])
  })

  it('renewMany over keys on every master: one result per lease, all renewed, none of a stranger', async () => {
    const d = await driver()
    const leases = []
    for (let i = 0; i < 60; i++) {
      const lease = await d.acquire(driverRequest(uniqueKey(`many-${i}`), { ttlMs: 2_000 }))
      if (lease === null) throw new Error('not granted')
      leases.push(lease)
    }
    const ports = new Set(
      await Promise.all(
        leases.map(async (l) => (await masterOf(slotOf(lockKeys('baton', l.key).lock))).port),
      ),
    )
    expect(ports.size).toBe(3) // the batch really spans the three masters
    // One lease taken over behind our back: only that one fails.
    const stolen = leases[7] as (typeof leases)[number]
    await raw.set(lockKeys('baton', stolen.key).lock, 'someone-else', 'PX', 10_000)
    const results = await d.renewMany(leases, 20_000)
    expect(results.filter((r) => r.ok)).toHaveLength(59)
    expect(results[7]).toEqual({ ok: false })
    const pttl = await raw.pttl(lockKeys('baton', (leases[0] as (typeof leases)[number]).key).lock)
    expect(pttl).toBeGreaterThan(10_000)
    expect(await raw.get(lockKeys('baton', stolen.key).lock)).toBe('someone-else')
    await Promise.all(leases.map((l) => d.release(l)))
  })

  it('a release wakes a waiter of another driver at once, whatever node holds the key (not the TTL)', async () => {
    const [a, b] = [await driver(), await driver()]
    const ttlMs = 20_000
    for (let i = 0; i < 3; i++) {
      const key = uniqueKey(`wake-${i}`)
      const held = await a.acquire(driverRequest(key, { ttlMs }))
      expect(held).not.toBeNull()
      const waiting = b.acquire(driverRequest(key, { ttlMs, waitMs: ttlMs }))
      await new Promise((r) => setTimeout(r, 200))
      const releasedAt = performance.now()
      await a.release(held as NonNullable<typeof held>)
      const got = await waiting
      const afterMs = performance.now() - releasedAt
      expect(got).not.toBeNull()
      expect(afterMs).toBeLessThan(ttlMs / 4) // push, not the PTTL backstop
      expect((got as NonNullable<typeof got>).fence).toBeGreaterThan(
        (held as NonNullable<typeof held>).fence,
      )
      await b.release(got as NonNullable<typeof got>)
    }
  })

  it('list() finds locks on every master', async () => {
    const d = await driver()
    const prefix = uniqueKey('ls')
    const leases = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        d.acquire(driverRequest(`${prefix}:${i}`, { ttlMs: 10_000 })),
      ),
    )
    const listed = await d.list(prefix)
    expect(listed.map((l) => l.key).sort()).toEqual(
      Array.from({ length: 12 }, (_, i) => `${prefix}:${i}`).sort(),
    )
    for (const lease of leases) if (lease) await d.release(lease)
  })

  it('slot migration while locks are held and contended: no double grant, fences increase, leases kept', async () => {
    const [holder, contender] = [await driver(), await driver()]
    const key = uniqueKey('migrate')
    const { lock, fence } = lockKeys('baton', key)
    const slot = slotOf(lock)
    const held = await holder.acquire(driverRequest(key, { ttlMs: 30_000 }))
    if (held === null) throw new Error('not granted')
    const source = await masterOf(slot)
    // pick a master other than the source
    const masters = await Promise.all(
      cluster.members.map(async (m) => {
        const c = new Redis(m.port, m.host)
        try {
          return { m, role: ((await c.role()) as string[])[0], id: await c.cluster('MYID') }
        } finally {
          c.disconnect()
        }
      }),
    )
    const dest = masters.find((x) => x.role === 'master' && x.m.port !== source.port)
    const src = masters.find((x) => x.m.port === source.port)
    if (dest === undefined || src === undefined) throw new Error('no second master')
    const srcClient = new Redis(source.port, source.host)
    const destClient = new Redis(dest.m.port, dest.m.host)
    // Contention during the whole migration: the contender must never be granted.
    let stop = false
    let contenderGrants = 0
    let contenderTries = 0
    const contend = (async () => {
      const until = performance.now() + 20_000
      while (!stop && performance.now() < until) {
        contenderTries++
        const got = await contender.acquire(driverRequest(key, { ttlMs: 5_000 })).catch(() => null)
        if (got !== null) {
          contenderGrants++
          await contender.release(got)
        }
      }
    })()
    try {
      await destClient.cluster('SETSLOT', slot, 'IMPORTING', src.id)
      await srcClient.cluster('SETSLOT', slot, 'MIGRATING', dest.id)
      // Move the fence first, then the lock: in between, the slot's keys are split and
      // every script on them gets TRYAGAIN or ASK, never a partial view.
      for (const k of [fence, lock]) {
        await srcClient.migrate(dest.m.host, dest.m.port, k, 0, 5_000)
        await new Promise((r) => setTimeout(r, 300))
      }
      for (const c of [destClient, srcClient]) await c.cluster('SETSLOT', slot, 'NODE', dest.id)
      await new Promise((r) => setTimeout(r, 500))
    } finally {
      stop = true
      await contend
      srcClient.disconnect()
      destClient.disconnect()
    }
    expect(contenderTries).toBeGreaterThan(0)
    expect(contenderGrants).toBe(0)
    expect((await masterOf(slot)).port).toBe(dest.m.port)
    // The lease survived (the new node proves it) and renews there.
    expect(held.lost.aborted).toBe(false)
    expect(await holder.renew(held, 30_000)).toEqual({ ok: true, ttlMs: 30_000 })
    expect(await holder.release(held)).toBe(true)
    const next = await contender.acquire(driverRequest(key, { ttlMs: 5_000 }))
    expect(next?.fence).toBeGreaterThan(held.fence)
    if (next) await contender.release(next)
  }, 60_000)

  it('master kill: the replica takes over, a replicated lease is proven there and kept, a second holder is refused', async () => {
    const [holder, contender] = [await driver(), await driver()]
    const key = uniqueKey('failover')
    const { lock } = lockKeys('baton', key)
    const held = await holder.acquire(driverRequest(key, { ttlMs: 30_000 }))
    if (held === null) throw new Error('not granted')
    const victim = await masterOf(slotOf(lock))
    // WAIT 1: the grant reached the replica before we kill its master.
    const direct = new Redis(victim.port, victim.host)
    await untilReplicaAcks(direct)
    direct.disconnect()
    const killedAt = performance.now()
    await victim.kill()
    try {
      // Bounded: until a running member serves the slot (cluster-node-timeout 1 s + election).
      let promoted = victim
      for (let i = 0; i < 300 && promoted.port === victim.port; i++) {
        await new Promise((r) => setTimeout(r, 100))
        promoted = await masterOf(slotOf(lock)).catch(() => victim)
      }
      const takeoverMs = performance.now() - killedAt
      await cluster.waitHealthy(30_000)
      expect(promoted.port).not.toBe(victim.port)
      // A contender on the new master is refused: the key replicated.
      expect(await contender.acquire(driverRequest(key, { ttlMs: 5_000 }))).toBeNull()
      expect(await holder.renew(held, 30_000)).toEqual({ ok: true, ttlMs: 30_000 })
      expect(held.lost.aborted).toBe(false)
      expect(await holder.release(held)).toBe(true)
      const next = await contender.acquire(driverRequest(key, { ttlMs: 5_000 }))
      expect(next?.fence).toBeGreaterThan(held.fence)
      if (next) await contender.release(next)
      console.info(`[cluster failover] slot served again after ${Math.round(takeoverMs)} ms`)
    } finally {
      await victim.restart()
      await cluster.waitHealthy(30_000)
    }
  }, 90_000)

  it('master kill before the grant replicated: the holder is told (lost), a second holder gets the key, the fence repeats', async () => {
    const [holder, contender] = [await driver(), await driver()]
    const key = uniqueKey('unreplicated')
    const { lock, fence } = lockKeys('baton', key)
    const held = await holder.acquire(driverRequest(key, { ttlMs: 30_000 }))
    if (held === null) throw new Error('not granted')
    const victim = await masterOf(slotOf(lock))
    const direct = new Redis(victim.port, victim.host)
    await untilReplicaAcks(direct)
    direct.disconnect()
    // What asynchronous replication does when the master dies right after a grant: the
    // replica never got it. Made deterministic: the replica is told the grant is undone
    // (DEL and fence - 1 are replicated), the master keeps it (the redo is not replicated).
    const UNREPLICATE = `
      local owner = redis.call('GET', KEYS[1])
      local pttl = redis.call('PTTL', KEYS[1])
      redis.call('DEL', KEYS[1])
      redis.call('HINCRBY', KEYS[2], 'n', -1)
      redis.set_repl(redis.REPL_NONE)
      redis.call('SET', KEYS[1], owner, 'PX', pttl)
      redis.call('HINCRBY', KEYS[2], 'n', 1)
      return 1`
    const master = new Redis(victim.port, victim.host)
    await master.eval(UNREPLICATE, 2, lock, fence)
    expect(await master.wait(1, 5_000)).toBe(1)
    expect(await master.get(lock)).toBe(held.owner)
    master.disconnect()
    await victim.kill()
    try {
      let promoted = victim
      for (let i = 0; i < 300 && promoted.port === victim.port; i++) {
        await new Promise((r) => setTimeout(r, 100))
        promoted = await masterOf(slotOf(lock)).catch(() => victim)
      }
      expect(promoted.port).not.toBe(victim.port)
      // The second holder is granted on the new master while the first still holds its lease...
      const second = await contender.acquire(driverRequest(key, { ttlMs: 5_000 }))
      expect(second).not.toBeNull()
      // ... with the same fence: fences are not durable across a failover that lost writes.
      expect(second?.fence).toBe(held.fence)
      // The first holder learns it (slot-map refresh, then the check on the new master),
      // bounded by the next renewal at the latest.
      const renewed = await holder.renew(held, 30_000)
      expect(renewed).toEqual({ ok: false })
      expect(held.lost.aborted).toBe(true)
      if (second) await contender.release(second)
    } finally {
      await victim.restart()
      await cluster.waitHealthy(30_000)
    }
  }, 90_000)

  it('through Locker: connect by URL, exclusion across two lockers', async () => {
    const [a, b] = [new Locker(await driver()), new Locker(await driver())]
    const key = uniqueKey('locker')
    let inside = 0
    let maxInside = 0
    await Promise.all(
      [a, b, a, b].map((locker) =>
        locker.withLock(
          key,
          async () => {
            maxInside = Math.max(maxInside, ++inside)
            await new Promise((r) => setTimeout(r, 20))
            inside--
          },
          { ttlMs: 5_000, waitMs: 10_000 },
        ),
      ),
    )
    expect(maxInside).toBe(1)
  })
})
