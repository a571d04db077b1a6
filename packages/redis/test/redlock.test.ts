import { getEventListeners } from 'node:events'
import { isLockError, Locker } from '@baton-lock/core'
import { runConformance } from '@baton-lock/core/conformance'
import { driverRequest, uniqueKey } from '@baton-lock/core/driver'
import { lockKeys, QuorumUnavailableError, RedlockDriver } from '@baton-lock/redis'
import { type ServerHandle, startRedisNodes } from '@baton-lock/test-matrix'
import { connect, parseLockUrl } from 'baton-lock'
import { Redis } from 'ioredis'
import { afterAll, afterEach, describe, expect, it } from 'vitest'

// Five independent masters without persistence (the Kleppmann caveat needs them volatile).
const nodes = await startRedisNodes(5)
const members = nodes.members as ServerHandle[]
const raw = members.map((m) => new Redis(m.port, m.host).on('error', () => {}))
const url = `redlock://${members.map((m) => `${m.host}:${m.port}`).join(',')}`
const drivers: RedlockDriver[] = []
afterEach(async () => {
  await Promise.allSettled(drivers.splice(0).map((d) => d.close()))
})
afterAll(async () => {
  for (const r of raw) r.disconnect()
  await nodes.stop()
})

async function driver(options: { commandTimeoutMs?: number } = {}): Promise<RedlockDriver> {
  const d = await RedlockDriver.connect({ url, onWarning: () => {}, ...options })
  drivers.push(d)
  return d
}

/** How many nodes hold `key` for `owner` right now (reading only nodes that run). */
async function holders(key: string, owner: string, among = members): Promise<number> {
  const { lock } = lockKeys('baton', key)
  const owners = await Promise.all(
    among.map((m) => raw[members.indexOf(m)]?.get(lock).catch(() => null)),
  )
  return owners.filter((o) => o === owner).length
}

runConformance({
  name: 'redlock (5 independent masters)',
  createDriver: () => RedlockDriver.connect({ url, onWarning: () => {} }),
  faults: {
    // As expiry or an operator would: the lock key vanishes on every node.
    dropLock: async (lock) => {
      await Promise.all(raw.map((r) => r.del(lockKeys('baton', lock.key).lock)))
    },
  },
})

describe('redlock quorum mode', () => {
  it('declares no shared locks and no semaphores: core refuses them with LockUnsupportedError before any backend call', async () => {
    const d = await driver()
    expect(d.capabilities).toMatchObject({ sharedLocks: false, semaphores: false })
    const locker = new Locker(d, { closeDriver: false })
    const key = uniqueKey('rl-modes')
    await expect(locker.acquire(key, { mode: 'shared' })).rejects.toMatchObject({
      code: 'LOCK_UNSUPPORTED',
    })
    expect(() => locker.semaphore(key, { limit: 2 })).toThrow(/semaphores/)
    await locker.close()
  })

  it('grants on a majority with the drift taken off the validity; the fence is the largest counter', async () => {
    const d = await driver()
    expect(d.quorum).toEqual({ nodes: 5, majority: 3 })
    const key = uniqueKey('quorum')
    const { fence } = lockKeys('baton', key)
    // Counters that disagree (as after grants that reached only some nodes).
    await raw[4]?.hset(fence, 'n', 41)
    const lease = await d.acquire(driverRequest(key, { ttlMs: 10_000 }))
    if (lease === null) throw new Error('not granted')
    expect(lease.ttlMs).toBe(10_000 - 100 - 2) // driftFactor 0.01 + 2 ms
    expect(lease.fence).toBe(42n)
    expect(await holders(key, lease.owner)).toBe(5)
    // Written back: every node's counter is 42 now, so the next fence is 43 from any majority.
    const counters = await Promise.all(raw.map((r) => r.hget(fence, 'n')))
    expect(counters).toEqual(['42', '42', '42', '42', '42'])
    expect(await d.release(lease)).toBe(true)
    expect(await holders(key, lease.owner)).toBe(0)
  })

  it('node clients with an ioredis keyPrefix: acquire, inspect, renew and release all use the prefixed keys', async () => {
    const clients = members.map((m) =>
      new Redis({ host: m.host, port: m.port, keyPrefix: 'app:', lazyConnect: true }).on(
        'error',
        () => {},
      ),
    )
    const d = new RedlockDriver({ nodes: clients, ownsClients: true, onWarning: () => {} })
    drivers.push(d)
    await d.ready()
    const key = uniqueKey('prefixed')
    const { lock } = lockKeys('baton', key)
    const lease = await d.acquire(driverRequest(key, { ttlMs: 5_000 }))
    if (lease === null) throw new Error('not granted')
    const owners = await Promise.all(raw.map((r) => r.get(`app:${lock}`)))
    expect(owners).toEqual(members.map(() => lease.owner))
    expect(await Promise.all(raw.map((r) => r.exists(lock)))).toEqual(members.map(() => 0))
    expect((await d.inspect(key))?.owner).toBe(lease.owner)
    expect((await d.renew(lease, 5_000)).ok).toBe(true)
    expect(await d.release(lease)).toBe(true)
    expect(await Promise.all(raw.map((r) => r.exists(`app:${lock}`)))).toEqual(members.map(() => 0))
  })

  it('after SCRIPT FLUSH on the nodes, acquire and release still run (the scripts are sent again)', async () => {
    const d = await driver()
    const key = uniqueKey('flushed')
    const first = await d.acquire(driverRequest(key, { ttlMs: 5_000 }))
    if (first === null) throw new Error('not granted')
    expect(await d.release(first)).toBe(true)
    await Promise.all(raw.map((r) => r.script('FLUSH')))
    const lease = await d.acquire(driverRequest(key, { ttlMs: 5_000 }))
    if (lease === null) throw new Error('not granted after SCRIPT FLUSH')
    expect(lease.fence).toBe(first.fence + 1n)
    expect(await holders(key, lease.owner)).toBe(5)
    await Promise.all(raw.map((r) => r.script('FLUSH')))
    expect(await d.release(lease)).toBe(true)
    expect(await holders(key, lease.owner)).toBe(0)
  })

  it('a waiter woken again and again by release messages leaves no abort listener or timer behind per sleep', async () => {
    const holder = await driver()
    const waiter = await driver()
    const key = uniqueKey('rewoken')
    const { channel } = lockKeys('baton', key)
    const held = await holder.acquire(driverRequest(key, { ttlMs: 10_000 }))
    if (held === null) throw new Error('not granted')
    const abort = new AbortController()
    const waiting = waiter.acquire(
      driverRequest(key, { ttlMs: 5_000, waitMs: 8_000, signal: abort.signal }),
    )
    // Each message wakes the waiter, which is refused (the holder's PTTL is about 10 s) and
    // sleeps again: 30 sleeps within one PTTL.
    for (let i = 0; i < 30; i++) {
      await raw[i % raw.length]?.publish(channel, '')
      await new Promise((r) => setTimeout(r, 15))
    }
    expect(getEventListeners(abort.signal, 'abort').length).toBeLessThanOrEqual(2)
    expect(await holder.release(held)).toBe(true)
    const lease = await waiting
    expect(lease).not.toBeNull()
    if (lease) expect(await waiter.release(lease)).toBe(true)
    expect(getEventListeners(abort.signal, 'abort').length).toBe(0)
  })

  it('a majority holder blocks, a minority holder does not; a refused attempt leaves nothing behind', async () => {
    const a = await driver()
    const key = uniqueKey('split')
    const { lock } = lockKeys('baton', key)
    // Someone else holds the key on 3 nodes: a majority refuses.
    await Promise.all([0, 1, 2].map((i) => raw[i]?.set(lock, 'other', 'PX', 10_000)))
    expect(await a.acquire(driverRequest(key, { ttlMs: 5_000 }))).toBeNull()
    // Nothing of a's attempt stays on the two nodes that granted it.
    expect(await raw[3]?.exists(lock)).toBe(0)
    expect(await raw[4]?.exists(lock)).toBe(0)
    // The other owner is left with 2 nodes (a minority): a gets 3 and is granted.
    await raw[0]?.del(lock)
    const lease = await a.acquire(driverRequest(key, { ttlMs: 5_000 }))
    expect(lease).not.toBeNull()
    expect(await holders(key, lease?.owner ?? '')).toBe(3)
    if (lease) expect(await a.release(lease)).toBe(true)
    await Promise.all(raw.map((r) => r.del(lock)))
  })

  it('kill 2 of 5 during holds: holders stay exclusive, renew on the 3 left, a waiter is granted after release', async () => {
    const [a, b] = [
      await driver({ commandTimeoutMs: 500 }),
      await driver({ commandTimeoutMs: 500 }),
    ]
    const keys = Array.from({ length: 5 }, (_, i) => uniqueKey(`kill2-${i}`))
    const leases = await Promise.all(
      keys.map((k) => a.acquire(driverRequest(k, { ttlMs: 10_000 }))),
    )
    if (leases.some((l) => l === null)) throw new Error('not granted')
    const held = leases as NonNullable<(typeof leases)[number]>[]
    await Promise.all([members[0]?.kill(), members[1]?.kill()])
    try {
      // Exclusion holds: b is refused on the 3 nodes left.
      for (const k of keys) expect(await b.acquire(driverRequest(k, { ttlMs: 5_000 }))).toBeNull()
      // Renewal reaches a majority (3 of 5).
      const renewed = await a.renewMany(held, 10_000)
      expect(renewed.every((r) => r.ok)).toBe(true)
      expect(held.every((l) => !l.lost.aborted)).toBe(true)
      // A waiter gets the key after the release (push from a live node), with a greater fence.
      const first = held[0] as (typeof held)[number]
      const waiting = b.acquire(driverRequest(first.key, { ttlMs: 5_000, waitMs: 8_000 }))
      await expect.poll(() => b.waiting).toBe(1)
      await new Promise((r) => setTimeout(r, 100))
      const releasedAt = performance.now()
      expect(await a.release(first)).toBe(true)
      const got = await waiting
      expect(got).not.toBeNull()
      expect(performance.now() - releasedAt).toBeLessThan(2_500) // not the 10 s TTL
      expect(got?.fence).toBeGreaterThan(first.fence)
      if (got) await b.release(got)
      for (const l of held.slice(1)) await a.release(l)
    } finally {
      await Promise.all([members[0]?.restart(), members[1]?.restart()])
    }
  }, 60_000)

  it('kill 3 of 5: acquire fails clearly (QuorumUnavailableError through core as LockBackendError), a held lease is lost at renewal', async () => {
    const d = await driver({ commandTimeoutMs: 500 })
    const locker = new Locker(await driver({ commandTimeoutMs: 500 }), { closeDriver: false })
    const held = await d.acquire(driverRequest(uniqueKey('kill3-held'), { ttlMs: 10_000 }))
    if (held === null) throw new Error('not granted')
    await Promise.all([members[0]?.kill(), members[1]?.kill(), members[2]?.kill()])
    try {
      const err = await d
        .acquire(driverRequest(uniqueKey('kill3'), { ttlMs: 5_000 }))
        .catch((e: unknown) => e)
      expect(err).toBeInstanceOf(QuorumUnavailableError)
      expect(String(err)).toMatch(/2 of 5 nodes; a majority \(3\) must answer/)
      const viaCore = await locker
        .acquire(uniqueKey('kill3-core'), { waitMs: 1_000 })
        .catch((e: unknown) => e)
      expect(isLockError(viaCore, 'LOCK_BACKEND')).toBe(true)
      await expect(d.renew(held, 10_000)).rejects.toBeInstanceOf(QuorumUnavailableError)
    } finally {
      await locker.close()
      await Promise.all([members[0]?.restart(), members[1]?.restart(), members[2]?.restart()])
    }
  }, 60_000)

  it('Kleppmann: nodes that restart empty (no persistence) let a second holder in; the first learns it only afterwards', async () => {
    const [a, b] = [
      await driver({ commandTimeoutMs: 500 }),
      await driver({ commandTimeoutMs: 500 }),
    ]
    const key = uniqueKey('kleppmann')
    const { lock, fence } = lockKeys('baton', key)
    const first = await a.acquire(driverRequest(key, { ttlMs: 30_000 }))
    if (first === null) throw new Error('not granted')
    // Nodes 3 and 4 were down when a acquired (a holds on 0, 1, 2 only; their counters
    // never counted a's grant) ...
    await Promise.all(
      [3, 4].map(async (i) => {
        await raw[i]?.del(lock)
        await raw[i]?.hincrby(fence, 'n', -1)
      }),
    )
    // ... then node 2 crashes and comes back empty (no AOF): a's majority is gone.
    await members[2]?.kill()
    await members[2]?.restart()
    await expect.poll(() => raw[2]?.exists(lock).catch(() => -1), { timeout: 10_000 }).toBe(0)
    // (b's client of node 2 reconnected)
    await expect
      .poll(
        () =>
          b.clients[2]?.ping().then(
            () => true,
            () => false,
          ),
        { timeout: 10_000 },
      )
      .toBe(true)
    // b gets a majority (2, 3, 4) while a's lease is still valid: mutual exclusion is broken.
    const second = await b.acquire(driverRequest(key, { ttlMs: 30_000 }))
    expect(second).not.toBeNull()
    expect(performance.now()).toBeLessThan(first.sentAtMs + first.ttlMs)
    // a learns it only afterwards: the restarted node's new run id makes it re-count (2 of 5).
    await a.clients[2]?.ping().catch(() => undefined)
    await expect.poll(() => first.lost.aborted, { timeout: 10_000 }).toBe(true)
    // The fence does not save this case either: b's fence comes from nodes whose counters
    // never saw a's grant, so it need not be greater.
    expect(second?.fence).toBeLessThanOrEqual(first.fence)
    if (second) await b.release(second)
  }, 60_000)

  it('delayed restart (the remedy): a node kept down for the longest TTL cannot help a second holder', async () => {
    const [a, b] = [
      await driver({ commandTimeoutMs: 500 }),
      await driver({ commandTimeoutMs: 500 }),
    ]
    const key = uniqueKey('delayed')
    const { lock } = lockKeys('baton', key)
    const first = await a.acquire(driverRequest(key, { ttlMs: 1_500 }))
    if (first === null) throw new Error('not granted')
    await Promise.all([raw[3]?.del(lock), raw[4]?.del(lock)])
    await members[2]?.kill()
    try {
      // While node 2 is down, b is granted on 2 nodes (3, 4) of the 4 that answer: no majority.
      expect(await b.acquire(driverRequest(key, { ttlMs: 5_000 }))).toBeNull()
      // Node 2 comes back only after a's TTL ran out: by then a's lease is over anyway.
      await new Promise((r) =>
        setTimeout(r, Math.max(0, first.sentAtMs + 1_500 - performance.now()) + 50),
      )
    } finally {
      await members[2]?.restart()
    }
    await expect
      .poll(
        () =>
          b.clients[2]?.ping().then(
            () => true,
            () => false,
          ),
        { timeout: 10_000 },
      )
      .toBe(true)
    const second = await b.acquire(driverRequest(key, { ttlMs: 5_000 }))
    expect(second).not.toBeNull()
    expect((second as NonNullable<typeof second>).sentAtMs).toBeGreaterThan(
      first.sentAtMs + first.ttlMs,
    )
    if (second) await b.release(second)
  })

  it('baton-lock connect(url) opens redlock:// and redacts its password', async () => {
    expect(parseLockUrl('redlock://u:pw-s3cret@a:1,b:2,c:3').display).not.toContain('pw-s3cret')
    expect(parseLockUrl('redis+cluster://a:1,b:2').scheme).toBe('redis-cluster')
    expect(parseLockUrl('redis+sentinel://a:1,b:2/m').scheme).toBe('redis-sentinel')
    const locker = await connect(url)
    try {
      const lock = await locker.acquire(uniqueKey('connect'), { ttlMs: 5_000 })
      expect(await holders(lock.key, lock.owner)).toBe(5)
      await lock.release()
    } finally {
      await locker.close()
    }
  })

  it('bad options are TypeErrors that do not echo the URL', () => {
    expect(() => new RedlockDriver({ url: 'redis://:pw-s3cret@127.0.0.1:1' })).toThrow(TypeError)
    expect(() => new RedlockDriver({})).toThrow(/exactly one of/)
    expect(() => new RedlockDriver({ url, layout: 'odd' as 'plain' })).toThrow(/layout/)
    try {
      new RedlockDriver({ url: 'redlock://:pw-s3cret@127.0.0.1:99999' })
    } catch (err) {
      expect(String(err)).not.toContain('pw-s3cret')
      expect(String(err)).toMatch(/port/)
    }
  })
})
