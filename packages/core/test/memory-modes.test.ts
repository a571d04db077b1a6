import { describe, expect, it } from 'vitest'
import { driverRequest, MemoryStore } from '../src/driver-kit/index.js'
import type { AcquireRequest, DriverLease } from '../src/index.js'
import { isLockError, MemoryDriver } from '../src/index.js'
import { FakeClock, settle } from './fake-clock.js'

function req(key: string, options: Partial<AcquireRequest> = {}): AcquireRequest {
  return driverRequest(key, { ttlMs: 1_000, ...options })
}

const shared = { mode: 'shared' } as const
const permit = (limit: number) => ({ mode: 'semaphore', limit }) as const

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

/** Starts a waiting acquire and records when it settles, in `order` under `label`. */
function waiter(
  driver: MemoryDriver,
  key: string,
  label: string,
  order: string[],
  options: Partial<AcquireRequest> = {},
): Promise<DriverLease | null> {
  return driver.acquire(req(key, { waitMs: 60_000, ...options })).then((lease) => {
    order.push(label)
    return lease
  })
}

describe('MemoryDriver: shared locks', () => {
  it('declares sharedLocks and semaphores', () => {
    expect(new MemoryDriver().capabilities).toMatchObject({ sharedLocks: true, semaphores: true })
  })

  it('grants many shared holders at once, never beside an exclusive one', async () => {
    const { store, drivers } = setup()
    const [a, b, c] = drivers
    const r1 = await grant(a, 'k', shared)
    const r2 = await grant(b, 'k', shared)
    const r3 = await grant(b, 'k', shared)
    expect(await c.acquire(req('k'))).toBeNull()
    await a.release(r1)
    await b.release(r2)
    expect(await c.acquire(req('k'))).toBeNull()
    await b.release(r3)
    const w = await grant(c, 'k')
    expect(await a.acquire(req('k', shared))).toBeNull()
    await c.release(w)
    expect(store.activeKeyCount).toBe(0)
  })

  it('serves writers and readers in arrival order; consecutive readers at the head together (R2)', async () => {
    const { clock, drivers } = setup()
    const [a, b, c] = drivers
    const order: string[] = []
    const held = await grant(a, 'k')
    const r1 = waiter(b, 'k', 'r1', order, shared)
    const r2 = waiter(c, 'k', 'r2', order, shared)
    const w = waiter(a, 'k', 'w', order)
    const r3 = waiter(b, 'k', 'r3', order, shared)
    await a.release(held)
    const [l1, l2] = [await r1, await r2]
    await settle()
    expect(order).toEqual(['r1', 'r2'])
    // A reader that arrives now queues behind the waiting writer, though readers hold.
    expect(await c.acquire(req('k', shared))).toBeNull()
    await b.release(l1 as DriverLease)
    await settle()
    expect(order).toEqual(['r1', 'r2'])
    await c.release(l2 as DriverLease)
    const lw = await w
    await settle()
    expect(order).toEqual(['r1', 'r2', 'w'])
    await a.release(lw as DriverLease)
    const l3 = await r3
    expect(order).toEqual(['r1', 'r2', 'w', 'r3'])
    expect([l1, l2, lw, l3].map((l) => l?.fence)).toEqual([2n, 3n, 4n, 5n])
    expect(clock.now()).toBe(0)
  })

  it('a writer that gives up at the head lets the readers behind it in', async () => {
    const { clock, store, drivers } = setup()
    const [a, b, c] = drivers
    const reader = await grant(a, 'k', shared)
    const order: string[] = []
    const w = waiter(b, 'k', 'w', order, { waitMs: 100 })
    const r = waiter(c, 'k', 'r', order, shared)
    await clock.advanceTo(100)
    expect(await w).toBeNull()
    const late = await r
    expect(late?.fence).toBe(2n)
    await a.release(reader)
    await c.release(late as DriverLease)
    expect(store.activeKeyCount).toBe(0)
  })

  it('expires, renews and releases each shared grant on its own and aborts only its lost signal', async () => {
    const { clock, drivers } = setup()
    const [a, b, c] = drivers
    const short = await grant(a, 'k', { ...shared, ttlMs: 100 })
    const long = await grant(b, 'k', { ...shared, ttlMs: 1_000 })
    const writer = c.acquire(req('k', { waitMs: 60_000 }))
    expect(await a.renew(short, 200)).toEqual({ ok: true, ttlMs: 200 })
    await clock.advanceTo(199)
    expect(short.lost.aborted).toBe(false)
    await clock.advanceTo(200)
    expect(short.lost.aborted).toBe(true)
    expect(long.lost.aborted).toBe(false)
    expect(await a.renew(short, 200)).toEqual({ ok: false })
    expect(await a.release(short)).toBe(false)
    expect(await b.inspect('k')).toMatchObject({ held: true, mode: 'shared', holders: 1 })
    expect(await b.release(long)).toBe(true)
    expect((await writer)?.fence).toBe(3n)
  })

  it('keeps one fence counter per key across modes (F1)', async () => {
    const { drivers } = setup()
    const [a, b] = drivers
    const fences: bigint[] = []
    const w1 = await grant(a, 'k')
    fences.push(w1.fence)
    await a.release(w1)
    const rs = [await grant(a, 'k', shared), await grant(b, 'k', shared)]
    fences.push(...rs.map((r) => r.fence))
    for (const r of rs) await a.release(r)
    const w2 = await grant(b, 'k')
    fences.push(w2.fence)
    expect(fences).toEqual([1n, 2n, 3n, 4n])
  })

  it('inspect reports mode, holders and the first holder, and the stored value', async () => {
    const { drivers } = setup()
    const [a, b] = drivers
    const r1 = await grant(a, 'k', shared)
    await grant(b, 'k', shared)
    expect(await a.inspect('k')).toMatchObject({
      held: true,
      mode: 'shared',
      holders: 2,
      owner: r1.owner,
      fence: r1.fence,
    })
    const leader = await grant(a, 'e', { value: 'host-a:8080' })
    expect(await b.inspect('e')).toMatchObject({
      held: true,
      mode: 'exclusive',
      holders: 1,
      value: 'host-a:8080',
      fence: leader.fence,
    })
    expect(await b.list('')).toHaveLength(2)
  })

  it('force-release drops every shared holder and aborts their lost signals', async () => {
    const { store, drivers } = setup()
    const [a, b] = drivers
    const r1 = await grant(a, 'k', shared)
    const r2 = await grant(b, 'k', shared)
    expect(await a.forceRelease('k')).toBe(true)
    expect(r1.lost.aborted && r2.lost.aborted).toBe(true)
    expect(await a.forceRelease('k')).toBe(false)
    expect(store.activeKeyCount).toBe(0)
  })
})

describe('MemoryDriver: semaphores', () => {
  it('admits exactly limit holders and wakes a waiter on release', async () => {
    const { clock, store, drivers } = setup()
    const [a, b, c] = drivers
    const p1 = await grant(a, 's', permit(2))
    const p2 = await grant(b, 's', permit(2))
    expect(await c.acquire(req('s', permit(2)))).toBeNull()
    const order: string[] = []
    const waiting = waiter(c, 's', 'c', order, permit(2))
    await settle()
    expect(order).toEqual([])
    await a.release(p1)
    const p3 = await waiting
    expect(p3?.fence).toBe(3n)
    expect(await a.inspect('s', 'semaphore')).toMatchObject({
      held: true,
      mode: 'semaphore',
      holders: 2,
      limit: 2,
    })
    await b.release(p2)
    await c.release(p3 as DriverLease)
    expect(await a.inspect('s', 'semaphore')).toBeNull()
    expect(store.activeKeyCount).toBe(0)
    expect(clock.now()).toBe(0)
  })

  it('is a resource separate from the lock of the same key, with its own fences', async () => {
    const { drivers } = setup()
    const [a, b, c] = drivers
    const lock = await grant(a, 'k')
    const p = await grant(b, 'k', permit(1))
    expect(p.fence).toBe(1n)
    expect(await c.acquire(req('k', permit(1)))).toBeNull()
    expect(await c.acquire(req('k'))).toBeNull()
    expect(await a.inspect('k')).toMatchObject({ mode: 'exclusive', fence: lock.fence })
    expect(await a.inspect('k', 'semaphore')).toMatchObject({ mode: 'semaphore', fence: p.fence })
    expect(await a.release(lock)).toBe(true)
    expect(await a.renew(p, 500)).toEqual({ ok: true, ttlMs: 500 })
    const next = await grant(c, 'k')
    expect(next.fence).toBe(2n)
    expect(await b.release(p)).toBe(true)
    expect((await grant(c, 'k', permit(1))).fence).toBe(2n)
    expect(await a.list('')).toEqual([expect.objectContaining({ key: 'k', mode: 'exclusive' })])
  })

  it('rejects another limit than the current holders use with LockLimitMismatchError; a free semaphore takes any', async () => {
    const { drivers } = setup()
    const [a, b, c] = drivers
    const p = await grant(a, 's', permit(2))
    const err = await b.acquire(req('s', permit(3))).catch((e: unknown) => e)
    expect(isLockError(err, 'LOCK_LIMIT_MISMATCH')).toBe(true)
    expect(err).toMatchObject({ limit: 3, heldLimit: 2 })
    const q = await grant(b, 's', permit(2))
    // While the semaphore is full, a waiter with another limit is refused at once too.
    const refused = await c.acquire(req('s', { ...permit(1), waitMs: 60_000 })).catch((e) => e)
    expect(isLockError(refused, 'LOCK_LIMIT_MISMATCH')).toBe(true)
    await a.release(p)
    await b.release(q)
    // Free again: the next holder sets the limit.
    expect((await grant(c, 's', permit(5))).fence).toBe(3n)
    await expect(a.acquire(req('s', permit(0)))).rejects.toThrow(RangeError)
  })

  it('drop with an owner takes one permit away and aborts its lost signal; disconnect frees a driver\u2019s permits', async () => {
    const { store, drivers } = setup()
    const [a, b, c] = drivers
    const p1 = await grant(a, 's', permit(2))
    const p2 = await grant(b, 's', permit(2))
    expect(store.drop('s', { owner: p1.owner })).toBe(true)
    expect(p1.lost.aborted).toBe(true)
    expect(p2.lost.aborted).toBe(false)
    const p3 = await grant(c, 's', permit(2))
    const waiting = a.acquire(req('s', { ...permit(2), waitMs: 60_000 }))
    await b.close()
    expect(p2.lost.aborted).toBe(true)
    const p4 = await waiting
    expect(p4?.fence).toBe(4n)
    await c.release(p3)
    await a.release(p4 as DriverLease)
    expect(store.activeKeyCount).toBe(0)
  })

  it('expires a silent permit after its ttlMs and hands its place to a waiter', async () => {
    const { clock, drivers } = setup()
    const [a, b] = drivers
    const p = await grant(a, 's', { ...permit(1), ttlMs: 300 })
    const waiting = b.acquire(req('s', { ...permit(1), waitMs: 60_000 }))
    await clock.advanceTo(300)
    expect(p.lost.aborted).toBe(true)
    expect((await waiting)?.fence).toBe(2n)
  })
})
