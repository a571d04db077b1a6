import type { DriverLease } from '@baton-lock/core'
import { driverRequest, uniqueKey } from '@baton-lock/core/driver'
import { lockKeys, RedisDriver } from '@baton-lock/redis'
import { type ServerHandle, startRedis } from '@baton-lock/test-matrix'
import { Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'

let server: ServerHandle
let raw: Redis
const drivers: RedisDriver[] = []

beforeAll(async () => {
  server = await startRedis()
  raw = new Redis(server.url)
})
afterEach(async () => {
  await Promise.all(drivers.splice(0).map((d) => d.close()))
})
afterAll(async () => {
  raw?.disconnect()
  await server?.stop()
})

async function driver(): Promise<RedisDriver> {
  const d = await RedisDriver.connect({ url: server.url, onWarning: () => {} })
  drivers.push(d)
  return d
}

describe('RedisDriver protocol', () => {
  it('grants with an increasing fence and refuses a second owner', async () => {
    const d = await driver()
    const key = uniqueKey('fence')
    const a = (await d.acquire(driverRequest(key))) as DriverLease
    expect(a.fence).toBe(1n)
    expect(await d.acquire(driverRequest(key))).toBeNull()
    expect(await d.release(a)).toBe(true)
    expect(await d.release(a)).toBe(false)
    const b = (await d.acquire(driverRequest(key))) as DriverLease
    expect(b.fence).toBe(2n)
    await d.release(b)
  })

  it('runs its scripts as EVALSHA, loaded at ready(); after SCRIPT FLUSH one EVAL each, then EVALSHA again', async () => {
    const d = await driver()
    const key = uniqueKey('noscript')
    const calls = async () => {
      const stats = await raw.info('commandstats')
      const of = (name: string) =>
        Number(new RegExp(`cmdstat_${name}:calls=(\\d+)`).exec(stats)?.[1] ?? 0)
      return { evalsha: of('evalsha'), eval: of('eval') }
    }
    const before = await calls()
    const a = (await d.acquire(driverRequest(key))) as DriverLease
    expect(await d.release(a)).toBe(true)
    expect(await calls()).toEqual({ evalsha: before.evalsha + 2, eval: before.eval })
    await raw.script('FLUSH')
    const b = (await d.acquire(driverRequest(key))) as DriverLease
    expect(b.fence).toBe(a.fence + 1n)
    expect(await d.release(b)).toBe(true)
    // each script: EVALSHA answered NOSCRIPT (it did not run), then one EVAL that ran it
    expect(await calls()).toEqual({ evalsha: before.evalsha + 4, eval: before.eval + 2 })
    expect(await raw.exists(lockKeys('baton', key).lock)).toBe(0)
    const c = (await d.acquire(driverRequest(key))) as DriverLease
    expect(c.fence).toBe(b.fence + 1n)
    await d.release(c)
    expect(await calls()).toEqual({ evalsha: before.evalsha + 6, eval: before.eval + 2 })
  })

  it('lays keys out under one hash tag: braces, NUL and Unicode map to distinct, stable names', async () => {
    const d = await driver()
    const keys = ['{a}', '}x{', 'a\u0000b', 'a\u0000c', 'ключ🔒', 'Key', 'key']
    const leases = await Promise.all(keys.map((k) => d.acquire(driverRequest(k))))
    expect(leases.every((l) => l !== null)).toBe(true)
    for (const k of keys) {
      const names = lockKeys('baton', k)
      expect(names.lock).toMatch(/^baton:\{[0-9a-f]{64}\}:lock$/)
      expect(await raw.exists(names.lock)).toBe(1)
      expect(names.fence.slice(0, -'fence'.length)).toBe(names.lock.slice(0, -'lock'.length))
      expect(await raw.hget(names.fence, 'key')).toBe(k)
    }
    expect(new Set(keys.map((k) => lockKeys('baton', k).lock)).size).toBe(keys.length)
    for (const l of leases) await d.release(l as DriverLease)
  })

  it('renews only its own lease; renewMany answers in order', async () => {
    const d = await driver()
    const mine = (await d.acquire(driverRequest(uniqueKey('r1'), { ttlMs: 1_000 }))) as DriverLease
    const gone = (await d.acquire(driverRequest(uniqueKey('r2')))) as DriverLease
    await raw.del(lockKeys('baton', gone.key).lock)
    const results = await d.renewMany([mine, gone], 9_000)
    expect(results).toEqual([{ ok: true, ttlMs: 9_000 }, { ok: false }])
    expect(gone.lost.aborted).toBe(true)
    expect(await raw.pttl(lockKeys('baton', mine.key).lock)).toBeGreaterThan(5_000)
    expect(await d.renew({ ...mine, owner: 'f'.repeat(32) }, 1_000)).toEqual({ ok: false })
    await d.release(mine)
  })

  it('inspect, list and forceRelease', async () => {
    const d = await driver()
    const ns = uniqueKey('ops')
    const a = (await d.acquire(driverRequest(`${ns}:a`))) as DriverLease
    const info = await d.inspect(`${ns}:a`)
    expect(info).toMatchObject({ held: true, owner: a.owner, fence: a.fence })
    expect(info?.ttlRemainingMs).toBeGreaterThan(0)
    expect(await d.inspect(`${ns}:free`)).toBeNull()
    await d.acquire(driverRequest(`${ns}:b`))
    const listed = await d.list(`${ns}:`)
    expect(listed.map((l) => l.key)).toEqual([`${ns}:a`, `${ns}:b`])
    expect(await d.forceRelease(`${ns}:b`)).toBe(true)
    expect(await d.forceRelease(`${ns}:b`)).toBe(false)
    expect((await d.list(`${ns}:`)).map((l) => l.key)).toEqual([`${ns}:a`])
    await d.release(a)
  })

  it('a waiter wakes on release by push and unsubscribes after', async () => {
    const [d1, d2] = [await driver(), await driver()]
    const key = uniqueKey('wait')
    const held = (await d1.acquire(driverRequest(key, { ttlMs: 30_000 }))) as DriverLease
    const waiting = d2.acquire(driverRequest(key, { waitMs: 10_000 }))
    await expect.poll(() => d2.waiting).toBe(1)
    const releasedAt = performance.now()
    await d1.release(held)
    const got = (await waiting) as DriverLease
    expect(got.fence).toBe(held.fence + 1n)
    expect(performance.now() - releasedAt).toBeLessThan(2_000)
    expect(d2.waiting).toBe(0)
    await expect.poll(() => d2.subscribedChannels, { timeout: 5_000 }).toBe(0)
    await d2.release(got)
  })

  it('a waiter gets an expired lock through the PTTL backstop (no release message)', async () => {
    const [d1, d2] = [await driver(), await driver()]
    const key = uniqueKey('expire')
    await d1.acquire(driverRequest(key, { ttlMs: 300 }))
    const got = await d2.acquire(driverRequest(key, { waitMs: 10_000 }))
    expect(got?.fence).toBe(2n)
  })

  it('many local waiters are served FIFO, each release handing the lock over on the server', async () => {
    const [d1, d2] = [await driver(), await driver()]
    const key = uniqueKey('fifo')
    let held = (await d1.acquire(driverRequest(key, { ttlMs: 30_000 }))) as DriverLease
    const order: number[] = []
    const waiters = Array.from({ length: 5 }, (_, i) =>
      d2.acquire(driverRequest(key, { waitMs: 20_000, ttlMs: 30_000 })).then((l) => {
        order.push(i)
        return l as DriverLease
      }),
    )
    await expect.poll(() => d2.waiting).toBe(5)
    await expect.poll(() => raw.llen(lockKeys('baton', key).queue)).toBe(5)
    const before = await scriptCalls()
    await d1.release(held)
    for (let i = 0; i < 5; i++) {
      held = (await waiters[i]) as DriverLease
      await d2.release(held)
    }
    expect(order).toEqual([0, 1, 2, 3, 4])
    // Scripts counted: 6 releases, each handing the lock to the next waiter on the server.
    // A stampede (every waiter retrying on every release) would need 6 + 15 = 21 or more.
    expect((await scriptCalls()) - before).toBe(6)
  })

  it('a wait shorter than the subscription still tries once', async () => {
    const d = await driver()
    const key = uniqueKey('short')
    const lease = await d.acquire(driverRequest(key, { waitMs: 1 }))
    expect(lease?.fence).toBe(1n)
    expect(await d.acquire(driverRequest(key, { waitMs: 1 }))).toBeNull()
    await d.release(lease as DriverLease)
  })

  it('honours abort while waiting and leaves nothing held', async () => {
    const [d1, d2] = [await driver(), await driver()]
    const key = uniqueKey('abort')
    const held = (await d1.acquire(driverRequest(key))) as DriverLease
    const ac = new AbortController()
    const waiting = d2.acquire(driverRequest(key, { waitMs: 60_000, signal: ac.signal }))
    await expect.poll(() => d2.waiting).toBe(1)
    const abortedAt = performance.now()
    ac.abort(new Error('stop'))
    expect(await waiting).toBeNull()
    expect(performance.now() - abortedAt).toBeLessThan(100)
    expect(d2.waiting).toBe(0)
    expect((await d1.inspect(key))?.owner).toBe(held.owner)
    await expect.poll(() => raw.llen(lockKeys('baton', key).queue)).toBe(0)
  })

  it('close releases held locks and leaves no connections behind', async () => {
    const d = await RedisDriver.connect({ url: server.url, onWarning: () => {} })
    const key = uniqueKey('close')
    await d.acquire(driverRequest(key))
    const waiter = d.acquire(driverRequest(key, { waitMs: 60_000 }))
    await expect.poll(() => d.waiting).toBe(1)
    await d.close()
    expect(await waiter).toBeNull()
    expect(await raw.exists(lockKeys('baton', key).lock)).toBe(0)
    await expect.poll(() => d.client.status).toBe('end')
    expect(d.subscribedChannels).toBe(0)
    // H1: the command connection and the subscriber are gone server-side too (only `raw` is left).
    await expect
      .poll(
        async () =>
          String(await raw.client('LIST'))
            .trim()
            .split('\n').length,
      )
      .toBe(1)
  })
})

async function scriptCalls(): Promise<number> {
  const stats = await raw.info('commandstats')
  const evalsha = /cmdstat_evalsha:calls=(\d+)/.exec(stats)
  const evals = /cmdstat_eval:calls=(\d+)/.exec(stats)
  return Number(evalsha?.[1] ?? 0) + Number(evals?.[1] ?? 0)
}
