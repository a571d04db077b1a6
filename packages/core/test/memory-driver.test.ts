import { describe, expect, it } from 'vitest'
import { driverRequest, MemoryStore } from '../src/driver-kit/index.js'
import type { AcquireRequest, DriverLease } from '../src/index.js'
import { MemoryDriver } from '../src/index.js'
import { FakeClock } from './fake-clock.js'

function req(key: string, options: Partial<AcquireRequest> = {}): AcquireRequest {
  return driverRequest(key, { ttlMs: 1_000, ...options })
}

async function grant(
  driver: MemoryDriver,
  key: string,
  options: Partial<AcquireRequest> = {},
): Promise<DriverLease> {
  const lease = await driver.acquire(req(key, options))
  if (lease === null) throw new Error(`expected a grant of ${key}`)
  return lease
}

function setup() {
  const clock = new FakeClock(0)
  const store = new MemoryStore({ clock })
  const drivers = [
    new MemoryDriver({ store }),
    new MemoryDriver({ store }),
    new MemoryDriver({ store }),
  ] as const
  return { clock, store, drivers }
}

describe('MemoryDriver', () => {
  it('declares its capabilities', () => {
    expect(new MemoryDriver().capabilities).toMatchObject({
      expiry: 'lease',
      nativeWait: true,
      fair: true,
      fencing: 'durable',
      lossSignal: true,
      inspect: true,
      maxKeyBytes: 1024,
    })
  })

  it('grants a free key, refuses a held one, and keeps fences increasing across releases', async () => {
    const { store, drivers } = setup()
    const [a, b] = drivers
    const first = await grant(a, 'k')
    expect(first).toMatchObject({ key: 'k', fence: 1n, ttlMs: 1_000, sentAtMs: 0 })
    expect(await b.acquire(req('k'))).toBeNull()
    expect(await a.release(first)).toBe(true)
    expect(await a.release(first)).toBe(false)
    const second = await grant(b, 'k')
    expect(second.fence).toBe(2n)
    expect((await grant(a, 'other')).fence).toBe(1n)
    await b.release(second)
    expect(store.activeKeyCount).toBe(1)
  })

  it('hands the key to the longest waiter on release, with no polling and no time passing (push, FIFO)', async () => {
    const { clock, drivers } = setup()
    const [a, b, c] = drivers
    const held = await grant(a, 'k')
    const order: string[] = []
    const waitB = b.acquire(req('k', { waitMs: 5_000 })).then((l) => {
      order.push('b')
      return l
    })
    const waitC = c.acquire(req('k', { waitMs: 5_000 })).then((l) => {
      order.push('c')
      return l
    })
    const waitA = a.acquire(req('k', { waitMs: 5_000 })).then((l) => {
      order.push('a')
      return l
    })
    await a.release(held)
    const leaseB = await waitB
    expect(order).toEqual(['b'])
    expect(leaseB?.fence).toBe(2n)
    await b.release(leaseB as DriverLease)
    const leaseC = await waitC
    await c.release(leaseC as DriverLease)
    const leaseA = await waitA
    expect(order).toEqual(['b', 'c', 'a'])
    expect(leaseA?.fence).toBe(4n)
    expect(clock.now()).toBe(0)
  })

  it('a try (waitMs 0) does not jump the queue of waiters', async () => {
    const { drivers } = setup()
    const [a, b, c] = drivers
    const held = await grant(a, 'k')
    const waiting = b.acquire(req('k', { waitMs: 5_000 }))
    await a.release(held)
    expect(await c.acquire(req('k'))).toBeNull()
    expect((await waiting)?.fence).toBe(2n)
  })

  it('gives up a wait after exactly waitMs, and on abort, leaving nothing behind (S4)', async () => {
    const { clock, store, drivers } = setup()
    const [a, b, c] = drivers
    const held = await grant(a, 'k', { ttlMs: 60_000 })
    let timedOut: DriverLease | null | undefined
    void b.acquire(req('k', { waitMs: 300 })).then((l) => {
      timedOut = l
    })
    const ac = new AbortController()
    const aborted = c.acquire(req('k', { waitMs: 60_000, signal: ac.signal }))
    await clock.advanceTo(299)
    expect(timedOut).toBeUndefined()
    await clock.advanceTo(300)
    expect(timedOut).toBeNull()
    ac.abort()
    expect(await aborted).toBeNull()
    expect(await c.acquire(req('k', { signal: AbortSignal.abort() }))).toBeNull()
    await a.release(held)
    expect(store.activeKeyCount).toBe(0)
  })

  it('expires a silent holder after ttlMs, aborts its lost signal and grants the next waiter', async () => {
    const { clock, drivers } = setup()
    const [a, b] = drivers
    const held = await grant(a, 'k', { ttlMs: 1_000 })
    const next = b.acquire(req('k', { waitMs: 10_000 }))
    await clock.advanceTo(999)
    expect(held.lost.aborted).toBe(false)
    expect(await a.inspect('k')).toMatchObject({
      held: true,
      fence: 1n,
      ttlRemainingMs: 1,
      owner: held.owner,
    })
    await clock.advanceTo(1_000)
    expect(held.lost.aborted).toBe(true)
    expect(String(held.lost.reason)).toMatch(/expired/)
    const lease = await next
    expect(lease).toMatchObject({ fence: 2n, sentAtMs: 1_000 })
    // S2: the expired holder can neither renew nor release the new holder's lock.
    expect(await a.renew(held, 1_000)).toEqual({ ok: false })
    expect(await a.release(held)).toBe(false)
    expect((await b.inspect('k'))?.owner).toBe(lease?.owner)
  })

  it('renew extends from now; renewMany answers in order', async () => {
    const { clock, drivers } = setup()
    const [a] = drivers
    const one = await grant(a, 'x', { ttlMs: 1_000 })
    const two = await grant(a, 'y', { ttlMs: 1_000 })
    await clock.advanceTo(800)
    expect(await a.renewMany([one, two], 2_000)).toEqual([
      { ok: true, ttlMs: 2_000 },
      { ok: true, ttlMs: 2_000 },
    ])
    await clock.advanceTo(2_799)
    expect(one.lost.aborted).toBe(false)
    await a.release(two)
    expect(await a.renewMany([two, one], 500)).toEqual([{ ok: false }, { ok: true, ttlMs: 500 }])
    await clock.advanceTo(2_799 + 499)
    expect(one.lost.aborted).toBe(false)
    await clock.advanceTo(2_799 + 500)
    expect(one.lost.aborted).toBe(true)
  })

  it('lists, inspects and force-releases keys', async () => {
    const { drivers } = setup()
    const [a, b] = drivers
    const l1 = await grant(a, 'app:one')
    await grant(b, 'app:two')
    await grant(b, 'other:three')
    expect((await a.list('app:')).map((i) => i.key).sort()).toEqual(['app:one', 'app:two'])
    expect(await a.inspect('free')).toBeNull()
    expect(await b.forceRelease('app:one')).toBe(true)
    expect(l1.lost.aborted).toBe(true)
    expect(await b.forceRelease('app:one')).toBe(false)
    expect((await grant(b, 'app:one')).fence).toBe(2n)
  })

  it('dropLock can drop silently: only the next renewal finds out', async () => {
    const { drivers } = setup()
    const [a] = drivers
    const lease = await grant(a, 'k')
    expect(await a.dropLock({ key: 'k', owner: 'someone-else' })).toBe(false)
    expect(await a.dropLock({ key: 'k', owner: lease.owner }, { notify: false })).toBe(true)
    expect(lease.lost.aborted).toBe(false)
    expect(await a.renew(lease, 1_000)).toEqual({ ok: false })
  })

  it('close() releases what the driver holds, ends its waits, and is idempotent', async () => {
    const { store, drivers } = setup()
    const [a, b, c] = drivers
    const held = await grant(a, 'k')
    const jHeld = await grant(b, 'j')
    const aWaits = a.acquire(req('j', { waitMs: 10_000 }))
    const bWaits = b.acquire(req('k', { waitMs: 10_000 }))
    await a.close()
    await a.close()
    expect(held.lost.aborted).toBe(true)
    expect(await aWaits).toBeNull()
    expect((await bWaits)?.fence).toBe(2n)
    await expect(a.acquire(req('z'))).rejects.toThrow(/closed/)
    await b.release(jHeld)
    await b.close()
    await c.close()
    expect(store.activeKeyCount).toBe(0)
  })

  it('drivers on separate stores do not see each other', async () => {
    await grant(new MemoryDriver(), 'k')
    expect(await new MemoryDriver().acquire(req('k'))).not.toBeNull()
  })
})
