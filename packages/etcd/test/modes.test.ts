import { isLockError, Locker, type LockHandle } from '@baton-lock/core'
import { startEtcd } from '@baton-lock/test-matrix'
import { Etcd3 } from 'etcd3'
import { afterAll, afterEach, beforeAll, expect, test } from 'vitest'
import { EtcdDriver, etcdLockName, lockPrefix, readPrefix, semaphoreName } from '../src/index.js'
import { endpointsOf, until } from './helpers.js'

// Shared locks, semaphores and elections against a real etcd, each contender on its own
// driver (own client, own lease), as separate processes would be.
let server: Awaited<ReturnType<typeof startEtcd>>
let admin: Etcd3
const lockers: Locker[] = []

beforeAll(async () => {
  server = await startEtcd()
  admin = new Etcd3({ hosts: endpointsOf(server.url) })
}, 120_000)
afterEach(async () => {
  await Promise.all(lockers.splice(0).map((l) => l.close()))
})
afterAll(async () => {
  admin?.close()
  await server?.stop()
})

let seq = 0
function name(label: string): string {
  seq += 1
  return `modes-${label}-${process.pid}-${seq}`
}

async function locker(): Promise<Locker> {
  const l = new Locker(new EtcdDriver({ url: server.url }))
  lockers.push(l)
  return l
}

/** Every etcd key under `prefix`. */
async function keysUnder(prefix: string): Promise<string[]> {
  return admin.getAll().prefix(prefix).keys()
}

/** Resolves true if `p` settles within `ms`, false otherwise (the promise keeps running). */
async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<false>((r) => {
    timer = setTimeout(() => r(false), ms)
  })
  const done = p.then(
    () => true,
    () => true,
  )
  const result = await Promise.race([done, timeout])
  clearTimeout(timer)
  return result
}

test('readers hold together under NAME/read/<owner>; inspect reports shared holders', async () => {
  const key = name('readers')
  const [a, b] = [await locker(), await locker()]
  const r1 = await a.acquire(key, { mode: 'shared', ttlMs: 5_000 })
  const r2 = await b.acquire(key, { mode: 'shared', ttlMs: 5_000, waitMs: 0 })
  expect(r1.mode).toBe('shared')
  expect(r2.mode).toBe('shared')
  expect(r1.isValid() && r2.isValid()).toBe(true)
  const keys = await keysUnder(lockPrefix(etcdLockName(key)))
  expect(keys.sort()).toEqual(
    [`${readPrefix(key)}${r1.owner}`, `${readPrefix(key)}${r2.owner}`].sort(),
  )
  const info = await a.inspect(key)
  expect(info).toMatchObject({ held: true, mode: 'shared', holders: 2, owner: r1.owner })
  expect(info.fence).toBe(r1.fence)
  await r1.release()
  await r2.release()
  expect(await keysUnder(lockPrefix(key))).toEqual([])
  expect(await a.inspect(key)).toEqual({ held: false })
})

test('a writer waits for the readers and excludes new ones; fences increase across modes', async () => {
  const key = name('writer')
  const [a, b, c] = [await locker(), await locker(), await locker()]
  const r1 = await a.acquire(key, { mode: 'shared', ttlMs: 5_000 })
  expect(await b.tryAcquire(key)).toBeNull()
  const writer = b.acquire(key, { ttlMs: 5_000, waitMs: 20_000 })
  await until(async () => (await keysUnder(lockPrefix(key))).length === 2, 5_000, 'writer queued')
  expect(await settlesWithin(writer, 300)).toBe(false)
  await r1.release()
  const w = await writer
  expect(w.fence > r1.fence).toBe(true)
  expect(await a.inspect(key)).toMatchObject({ held: true, mode: 'exclusive', owner: w.owner })
  expect(await c.tryAcquire(key, { mode: 'shared' })).toBeNull()
  const reader = c.acquire(key, { mode: 'shared', ttlMs: 5_000, waitMs: 20_000 })
  expect(await settlesWithin(reader, 300)).toBe(false)
  const releasedAt = performance.now()
  await w.release()
  const r2 = await reader
  console.info(
    `etcd modes: reader granted ${Math.round(performance.now() - releasedAt)} ms after the writer's release began`,
  )
  expect(r2.fence > w.fence).toBe(true)
  await r2.release()
})

test('R2: a queued writer is not overtaken by later readers (arrival order)', async () => {
  const key = name('r2')
  const [a, b, c] = [await locker(), await locker(), await locker()]
  const r1 = await a.acquire(key, { mode: 'shared', ttlMs: 5_000 })
  const order: string[] = []
  const writer = b.acquire(key, { ttlMs: 5_000, waitMs: 20_000 }).then((h) => {
    order.push('writer')
    return h
  })
  await until(async () => (await keysUnder(lockPrefix(key))).length === 2, 5_000, 'writer queued')
  // A reader arriving after the writer waits behind it, though only readers hold.
  expect(await c.tryAcquire(key, { mode: 'shared' })).toBeNull()
  const late = c.acquire(key, { mode: 'shared', ttlMs: 5_000, waitMs: 20_000 }).then((h) => {
    order.push('reader')
    return h
  })
  await until(async () => (await keysUnder(lockPrefix(key))).length === 3, 5_000, 'reader queued')
  expect(await settlesWithin(late, 300)).toBe(false)
  await r1.release()
  const w = await writer
  expect(await settlesWithin(late, 300)).toBe(false)
  await w.release()
  const r2 = await late
  expect(order).toEqual(['writer', 'reader'])
  expect(r1.fence < w.fence && w.fence < r2.fence).toBe(true)
  await r2.release()
})

test('a timed-out or aborted shared waiter leaves no key behind', async () => {
  const key = name('s4')
  const [a, b] = [await locker(), await locker()]
  const w = await a.acquire(key, { ttlMs: 5_000 })
  await expect(b.acquire(key, { mode: 'shared', waitMs: 300 })).rejects.toSatisfy((e) =>
    isLockError(e, 'LOCK_TIMEOUT'),
  )
  const stop = new AbortController()
  const aborted = b.acquire(key, { mode: 'shared', waitMs: 20_000, signal: stop.signal })
  await until(async () => (await keysUnder(readPrefix(key))).length === 1, 5_000, 'reader queued')
  stop.abort(new Error('test abort'))
  await expect(aborted).rejects.toSatisfy((e) => isLockError(e, 'LOCK_ABORTED'))
  await until(async () => (await keysUnder(readPrefix(key))).length === 0, 2_000, 'reader gone')
  await w.release()
  expect(await keysUnder(lockPrefix(key))).toEqual([])
})

test('M1: a semaphore admits at most limit holders across drivers, in arrival order', async () => {
  const key = name('sem')
  const limit = 2
  const contenders = [await locker(), await locker(), await locker(), await locker()]
  let inUse = 0
  let maxInUse = 0
  // Each permit: when its acquire started, when it was granted, its fence.
  const permits: Array<{ startMs: number; grantedMs: number; fence: bigint }> = []
  await Promise.all(
    contenders.map(async (l) => {
      const sem = l.semaphore(key, { limit })
      for (let i = 0; i < 4; i++) {
        const startMs = performance.now()
        await sem.withLock(
          async (permit) => {
            inUse += 1
            maxInUse = Math.max(maxInUse, inUse)
            permits.push({ startMs, grantedMs: performance.now(), fence: permit.fence })
            expect(permit.mode).toBe('semaphore')
            await new Promise((r) => setTimeout(r, 30))
            inUse -= 1
          },
          { ttlMs: 5_000, waitMs: 30_000 },
        )
      }
    }),
  )
  expect(permits).toHaveLength(16)
  expect(maxInUse).toBeLessThanOrEqual(limit)
  expect(maxInUse).toBe(limit)
  // F1 for permits: unique, and a permit asked for after another was granted has a greater fence.
  expect(new Set(permits.map((p) => p.fence)).size).toBe(permits.length)
  for (const later of permits) {
    for (const earlier of permits) {
      if (later.startMs > earlier.grantedMs) expect(later.fence > earlier.fence).toBe(true)
    }
  }
  expect(await keysUnder(lockPrefix(semaphoreName(key)))).toEqual([])
})

test('a semaphore is its own resource; inspect reports holders and limit; another limit is refused', async () => {
  const key = name('sem-own')
  const [a, b] = [await locker(), await locker()]
  const p1 = await a.semaphore(key, { limit: 2 }).acquire({ ttlMs: 5_000 })
  const p2 = await b.semaphore(key, { limit: 2 }).acquire({ ttlMs: 5_000 })
  expect(await b.semaphore(key, { limit: 2 }).tryAcquire()).toBeNull()
  // the lock of the same key is free
  const lock = await b.tryAcquire(key)
  expect(lock).not.toBeNull()
  await lock?.release()
  expect(await a.semaphore(key, { limit: 2 }).inspect()).toMatchObject({
    held: true,
    mode: 'semaphore',
    holders: 2,
    limit: 2,
    owner: p1.owner,
  })
  await expect(b.semaphore(key, { limit: 3 }).acquire({ waitMs: 1_000 })).rejects.toSatisfy(
    (e) => isLockError(e, 'LOCK_LIMIT_MISMATCH') && e.heldLimit === 2 && e.limit === 3,
  )
  // the refused request left no key
  expect(await keysUnder(lockPrefix(semaphoreName(key)))).toHaveLength(2)
  await expect(b.semaphore(key, { limit: 2 }).acquire({ waitMs: 300 })).rejects.toSatisfy((e) =>
    isLockError(e, 'LOCK_TIMEOUT'),
  )
  await until(
    async () => (await keysUnder(lockPrefix(semaphoreName(key)))).length === 2,
    2_000,
    'timed-out permit key deleted',
  )
  const stop = new AbortController()
  const waiting = b.semaphore(key, { limit: 2 }).acquire({ waitMs: 20_000, signal: stop.signal })
  await until(
    async () => (await keysUnder(lockPrefix(semaphoreName(key)))).length === 3,
    5_000,
    'permit waiter queued',
  )
  stop.abort(new Error('test abort'))
  await expect(waiting).rejects.toSatisfy((e) => isLockError(e, 'LOCK_ABORTED'))
  await until(
    async () => (await keysUnder(lockPrefix(semaphoreName(key)))).length === 2,
    2_000,
    'aborted permit key deleted',
  )
  await p1.release()
  await p2.release()
  expect(await a.semaphore(key, { limit: 2 }).inspect()).toEqual({ held: false })
})

test('a waiter deep in a semaphore queue is woken when any holder releases (no herd, no stall)', async () => {
  const key = name('sem-chain')
  const ls = [await locker(), await locker(), await locker(), await locker()]
  const sem = (l: Locker) => l.semaphore(key, { limit: 2 })
  const p0 = await sem(ls[0] as Locker).acquire({ ttlMs: 5_000 })
  const p1 = await sem(ls[1] as Locker).acquire({ ttlMs: 5_000 })
  const w2 = sem(ls[2] as Locker).acquire({ ttlMs: 5_000, waitMs: 20_000 })
  await until(
    async () => (await keysUnder(lockPrefix(semaphoreName(key)))).length === 3,
    5_000,
    'w2 queued',
  )
  const w3 = sem(ls[3] as Locker).acquire({ ttlMs: 5_000, waitMs: 20_000 })
  await until(
    async () => (await keysUnder(lockPrefix(semaphoreName(key)))).length === 4,
    5_000,
    'w3 queued',
  )
  await p0.release()
  const h2 = await w2
  // w3 now has p1 and h2 before it; h2 releasing first must admit it (not only p1).
  expect(await settlesWithin(w3, 300)).toBe(false)
  const releasedAt = performance.now()
  await h2.release()
  const h3 = await w3
  console.info(
    `etcd modes: permit waiter granted ${Math.round(performance.now() - releasedAt)} ms after the release began`,
  )
  // well below the 10 s recheck backstop: woken by a watch event
  expect(performance.now() - releasedAt).toBeLessThan(5_000)
  await Promise.all([p1.release(), h3.release()])
})

test('revoking the lease aborts the lost signal of every mode held on it', async () => {
  const key = name('lost')
  const l = await locker()
  const held: LockHandle[] = [
    await l.acquire(`${key}-x`, { ttlMs: 10_000 }),
    await l.acquire(`${key}-s`, { mode: 'shared', ttlMs: 10_000 }),
    await l.semaphore(`${key}-m`, { limit: 3 }).acquire({ ttlMs: 10_000 }),
  ]
  const [kv] = await admin
    .getAll()
    .prefix(readPrefix(`${key}-s`))
    .exec()
    .then((r) => r.kvs)
  expect(kv).toBeDefined()
  await admin.leaseClient.leaseRevoke({ ID: kv?.lease ?? '0' })
  await until(() => held.every((h) => h.signal.aborted), 10_000, 'every handle lost')
  expect(held.every((h) => !h.isValid())).toBe(true)
})

test('H1: after close nothing of any mode is left: keys, leases, watchers', async () => {
  const key = name('h1')
  const driver = new EtcdDriver({ url: server.url })
  const l = new Locker(driver)
  const other = await locker()
  const blocker = await other.acquire(key, { ttlMs: 5_000 })
  const s = await l.semaphore(key, { limit: 1 }).acquire({ ttlMs: 5_000 })
  const waiting = l.acquire(key, { mode: 'shared', waitMs: 20_000 }).catch((e: unknown) => e)
  await until(async () => (await keysUnder(readPrefix(key))).length === 1, 5_000, 'reader queued')
  expect(s.isValid()).toBe(true)
  await l.close()
  expect(isLockError(await waiting)).toBe(true)
  expect(driver.stats).toEqual({ leases: 0, watchers: 0, held: 0 })
  expect(await keysUnder(readPrefix(key))).toEqual([])
  expect(await keysUnder(lockPrefix(semaphoreName(key)))).toEqual([])
  await blocker.release()
  expect(await keysUnder(lockPrefix(key))).toEqual([])
})
