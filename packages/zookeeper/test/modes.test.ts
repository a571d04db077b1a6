import { isLockError, Locker } from '@baton-lock/core'
import { type DriverLease, driverRequest, uniqueKey } from '@baton-lock/core/driver'
import { startProxy, startZookeeper } from '@baton-lock/test-matrix'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { LOCAL_ADDRESS, sortedLockNodes, ZookeeperDriver } from '../src/index.js'
import { ZK, zkErrorCode } from '../src/zk-client.js'
import { type AdminClient, adminClient } from './zk-admin.js'

// Shared locks, semaphores and election values on a real ZooKeeper, driver by driver
// (each driver its own sessions, as separate processes would be).
let server: Awaited<ReturnType<typeof startZookeeper>>
let admin: AdminClient
const drivers: ZookeeperDriver[] = []

beforeAll(async () => {
  server = await startZookeeper()
  admin = await adminClient(server.url)
}, 240_000)
afterAll(async () => {
  await Promise.allSettled(drivers.map((d) => d.close()))
  admin?.close()
  await server?.stop()
})

function driver(url = server.url): ZookeeperDriver {
  const made = new ZookeeperDriver({ url, minSessionTimeoutMs: 500 })
  drivers.push(made)
  return made
}

const shared = (key: string, waitMs = 0) => driverRequest(key, { mode: 'shared', waitMs })
const exclusive = (key: string, waitMs = 0) => driverRequest(key, { waitMs })
const permit = (key: string, limit: number, waitMs = 0) =>
  driverRequest(key, { mode: 'semaphore', limit, waitMs })

/** Children of `path`; none when it does not exist (any other error fails the test). */
const children = (path: string) =>
  admin.getChildren(path).catch((err: unknown) => {
    if (zkErrorCode(err) === ZK.NO_NODE) return [] as string[]
    throw err
  })

/** Waits until `path` has `count` children (a waiter's node is in the queue); bounded. */
async function untilChildren(path: string, count: number): Promise<string[]> {
  const deadline = performance.now() + 20_000
  for (;;) {
    const names = await children(path)
    if (names.length === count) return names
    if (performance.now() > deadline) throw new Error(`${path} never had ${count} children`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

function granted(lease: DriverLease | null): DriverLease {
  expect(lease).not.toBeNull()
  return lease as DriverLease
}

test('R1: readers hold together on separate drivers; inspect reports shared holders', async () => {
  const [a, b, c] = [driver(), driver(), driver()]
  const key = uniqueKey('modes:readers')
  const r1 = granted(await a.acquire(shared(key)))
  const r2 = granted(await b.acquire(shared(key)))
  const r3 = granted(await c.acquire(shared(key)))
  const nodes = sortedLockNodes(await children(a.lockPathOf(key)))
  expect(nodes).toHaveLength(3)
  for (const name of nodes) expect(name).toMatch(/^_c_[0-9a-f-]{36}-__READ__\d{10}$/)
  const info = await a.inspect(key)
  expect(info).toMatchObject({ held: true, mode: 'shared', holders: 3, fence: r1.fence })
  expect(info?.owner).toBe(r1.owner)
  for (const [d, lease] of [
    [a, r1],
    [b, r2],
    [c, r3],
  ] as const)
    expect(await d.release(lease)).toBe(true)
  expect(await a.inspect(key)).toBeNull()
})

test('R1: a writer is excluded while readers hold, readers while a writer holds; F1 across modes', async () => {
  const [a, b, c] = [driver(), driver(), driver()]
  const key = uniqueKey('modes:writer')
  const r1 = granted(await a.acquire(shared(key)))
  const r2 = granted(await b.acquire(shared(key)))
  expect(await c.acquire(exclusive(key))).toBeNull()
  const writing = c.acquire(exclusive(key, 20_000))
  await untilChildren(a.lockPathOf(key), 3)
  await a.release(r1)
  await b.release(r2)
  const w = granted(await writing)
  expect(w.fence > r1.fence && w.fence > r2.fence).toBe(true)
  expect(await a.inspect(key)).toMatchObject({ held: true, mode: 'exclusive', holders: 1 })
  expect(await a.acquire(shared(key))).toBeNull()
  const reading = a.acquire(shared(key, 20_000))
  await untilChildren(a.lockPathOf(key), 2)
  await c.release(w)
  const r3 = granted(await reading)
  expect(r3.fence > w.fence).toBe(true)
  await a.release(r3)
  expect(await children(a.lockPathOf(key))).toEqual([])
})

test('R2: a waiting writer is not starved: a reader arriving after it waits behind it', async () => {
  const [a, b, c] = [driver(), driver(), driver()]
  const key = uniqueKey('modes:starve')
  const path = a.lockPathOf(key)
  const r1 = granted(await a.acquire(shared(key)))
  const writing = b.acquire(exclusive(key, 30_000))
  await untilChildren(path, 2)
  // later readers queue behind the writer even though a reader holds
  expect(await c.acquire(shared(key))).toBeNull()
  let lateReader: DriverLease | null = null
  const reading = c.acquire(shared(key, 30_000)).then((lease) => {
    lateReader = lease
    return lease
  })
  await untilChildren(path, 3)
  expect(lateReader).toBeNull()
  await a.release(r1)
  const w = granted(await writing)
  expect(lateReader).toBeNull() // still queued behind the writer
  expect((await a.inspect(key))?.mode).toBe('exclusive')
  await b.release(w)
  const r2 = granted(await reading)
  expect(r1.fence < w.fence && w.fence < r2.fence).toBe(true)
  await c.release(r2)
})

test('wake-ups: two readers queued behind a writer are both woken by its release (each watches the writer, not the reader before it)', async () => {
  const [a, b, c] = [driver(), driver(), driver()]
  const key = uniqueKey('modes:readers-behind-writer')
  const path = a.lockPathOf(key)
  const w = granted(await a.acquire(exclusive(key)))
  const first = b.acquire(shared(key, 10_000))
  await untilChildren(path, 2)
  const second = c.acquire(shared(key, 10_000))
  await untilChildren(path, 3)
  await a.release(w)
  const [r1, r2] = [granted(await first), granted(await second)]
  expect(await a.inspect(key)).toMatchObject({ mode: 'shared', holders: 2 })
  expect(w.fence < r1.fence && r1.fence < r2.fence).toBe(true)
  await b.release(r1)
  await c.release(r2)
  expect(await children(path)).toEqual([])
})

test('M1: a semaphore admits at most limit holders across three drivers; waiters get freed permits', async () => {
  const [a, b, c] = [driver(), driver(), driver()]
  const key = uniqueKey('modes:sem')
  const p1 = granted(await a.acquire(permit(key, 2)))
  const p2 = granted(await b.acquire(permit(key, 2)))
  expect(await c.acquire(permit(key, 2))).toBeNull()
  const leases = await children(`${a.semaphorePathOf(key)}/leases`)
  expect(leases).toHaveLength(2)
  for (const name of leases) expect(name).toMatch(/^_c_[0-9a-f-]{36}-lease-\d{10}$/)
  expect(await c.inspect(key, 'semaphore')).toMatchObject({
    held: true,
    mode: 'semaphore',
    holders: 2,
    limit: 2,
  })
  // the semaphore is not the lock of the same key
  expect(await c.inspect(key)).toBeNull()
  const lock = granted(await c.acquire(exclusive(key)))
  await c.release(lock)
  const waiting = c.acquire(permit(key, 2, 20_000))
  await untilChildren(`${a.semaphorePathOf(key)}/locks`, 1) // the waiter holds the way in
  await a.release(p1)
  const p3 = granted(await waiting)
  expect(p3.fence > p2.fence && p2.fence > p1.fence).toBe(true)
  expect(await children(`${a.semaphorePathOf(key)}/leases`)).toHaveLength(2)
  expect(await children(`${a.semaphorePathOf(key)}/locks`)).toEqual([])
  await b.release(p2)
  await c.release(p3)
  expect(await a.inspect(key, 'semaphore')).toBeNull()
})

test('M1: 4 drivers x 6 permits of a limit-3 semaphore: never more than 3 at once', async () => {
  const all = [driver(), driver(), driver(), driver()]
  const key = uniqueKey('modes:sem-stress')
  let inside = 0
  let most = 0
  const fences: bigint[] = []
  await Promise.all(
    all.map(async (d) => {
      for (let i = 0; i < 6; i++) {
        const lease = granted(await d.acquire(permit(key, 3, 30_000)))
        inside++
        most = Math.max(most, inside)
        fences.push(lease.fence)
        await new Promise((r) => setTimeout(r, 20))
        inside--
        await d.release(lease)
      }
    }),
  )
  // safety only: how many overlapped depends on the machine's load (the test above shows
  // that `limit` holders are admitted together)
  expect(most).toBeLessThanOrEqual(3)
  expect(new Set(fences).size).toBe(24)
  expect(await children(`${all[0]?.semaphorePathOf(key)}/leases`)).toEqual([])
})

test('a semaphore acquire with another limit than the holders is a LockLimitMismatchError and leaves nothing', async () => {
  const [a, b] = [driver(), driver()]
  const key = uniqueKey('modes:mismatch')
  const p1 = granted(await a.acquire(permit(key, 2)))
  const error = await b.acquire(permit(key, 3)).catch((err: unknown) => err)
  expect(isLockError(error, 'LOCK_LIMIT_MISMATCH')).toBe(true)
  expect(error).toMatchObject({ limit: 3, heldLimit: 2 })
  expect(await children(`${a.semaphorePathOf(key)}/leases`)).toHaveLength(1)
  expect(await children(`${a.semaphorePathOf(key)}/locks`)).toEqual([])
  await a.release(p1)
})

test('S4/H1: timed-out and aborted waiters of every mode leave no znode; close leaves nothing', async () => {
  const [a, b] = [driver(), driver()]
  const key = uniqueKey('modes:s4')
  const path = a.lockPathOf(key)
  const w = granted(await a.acquire(exclusive(key)))
  expect(await b.acquire(shared(key, 300))).toBeNull()
  const stop = new AbortController()
  const aborted = b.acquire({ ...exclusive(key, 30_000), signal: stop.signal })
  await untilChildren(path, 2)
  stop.abort()
  expect(await aborted).toBeNull()
  // an aborted acquire returns at once; its node's delete is already on the wire
  await untilChildren(path, 1)
  const [left] = await children(path)
  expect((await admin.exists(`${path}/${left}`))?.czxid.readBigUInt64BE(0)).toBe(w.fence)
  await a.release(w)
  granted(await a.acquire(shared(key)))
  expect(await b.acquire(exclusive(key, 300))).toBeNull()
  expect(await children(path)).toHaveLength(1)
  // semaphore: one waiter times out in the lease phase, one while queued for the way in
  const sem = a.semaphorePathOf(key)
  granted(await a.acquire(permit(key, 1)))
  const [leaseWait, gateWait] = [b.acquire(permit(key, 1, 800)), b.acquire(permit(key, 1, 400))]
  expect(await gateWait).toBeNull()
  expect(await leaseWait).toBeNull()
  expect(await children(`${sem}/leases`)).toHaveLength(1)
  expect(await children(`${sem}/locks`)).toEqual([])
  // close with grants outstanding: the sessions end, and their nodes with them
  await a.close()
  expect(await children(path)).toEqual([])
  expect(await children(`${sem}/leases`)).toEqual([])
  expect(a.sessionCount).toBe(0)
})

test('an election value is the exclusive node data and inspect returns it; without one the local address', async () => {
  const d = driver()
  const key = uniqueKey('modes:value')
  const leader = granted(await d.acquire(driverRequest(key, { value: 'host-a:8080' })))
  const [node] = await children(d.lockPathOf(key))
  expect((await admin.getData(`${d.lockPathOf(key)}/${node}`)).data.toString()).toBe('host-a:8080')
  expect(await d.inspect(key)).toMatchObject({
    held: true,
    mode: 'exclusive',
    value: 'host-a:8080',
    owner: leader.owner,
    fence: leader.fence,
  })
  await d.release(leader)
  const plain = granted(await d.acquire(exclusive(key)))
  const [plainNode] = await children(d.lockPathOf(key))
  expect((await admin.getData(`${d.lockPathOf(key)}/${plainNode}`)).data).toEqual(LOCAL_ADDRESS)
  await d.release(plain)
})

test('session loss aborts the lost signal of an exclusive, a shared and a semaphore grant', async () => {
  const proxy = await startProxy({ host: server.host, port: server.port })
  try {
    const held = driver(proxy.urlFor(server.url))
    const other = driver()
    const [k1, k2, k3] = [uniqueKey('modes:lost-x'), uniqueKey('modes:lost-s'), uniqueKey('x')]
    const ttlMs = 2_000
    const leases = [
      granted(await held.acquire(driverRequest(k1, { ttlMs }))),
      granted(await held.acquire(driverRequest(k2, { ttlMs, mode: 'shared' }))),
      granted(await held.acquire(driverRequest(k3, { ttlMs, mode: 'semaphore', limit: 1 }))),
    ]
    proxy.hold('both')
    const lost = leases.map(
      (lease) =>
        new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error('lost never aborted')), 4 * ttlMs)
          lease.lost.addEventListener('abort', () => {
            clearTimeout(timer)
            resolve()
          })
        }),
    )
    await Promise.all(lost)
    // the server expired the session: every mode is free for another driver
    granted(await other.acquire(exclusive(k1, 10_000)))
    granted(await other.acquire(exclusive(k2, 10_000)))
    granted(await other.acquire(permit(k3, 1, 10_000)))
  } finally {
    proxy.heal()
    await proxy.close()
  }
})

test('through a Locker: shared holders of one Locker overlap, a semaphore counts permits, exclusive waits', async () => {
  const locker = new Locker(driver(), { ttlMs: 5_000 })
  const other = new Locker(driver(), { ttlMs: 5_000 })
  try {
    const key = uniqueKey('modes:locker')
    const [x, y] = await Promise.all([
      locker.acquire(key, { mode: 'shared' }),
      locker.acquire(key, { mode: 'shared' }),
    ])
    expect([x.mode, y.mode]).toEqual(['shared', 'shared'])
    expect(await locker.inspect(key)).toMatchObject({ mode: 'shared', holders: 2 })
    expect(await other.tryAcquire(key)).toBeNull()
    await x.release()
    await y.release()
    const semaphore = locker.semaphore(key, { limit: 2 })
    const permits = [
      await semaphore.tryAcquire(),
      await other.semaphore(key, { limit: 2 }).tryAcquire(),
    ]
    expect(permits.map((p) => p?.mode)).toEqual(['semaphore', 'semaphore'])
    expect(await semaphore.tryAcquire()).toBeNull()
    expect(await semaphore.inspect()).toMatchObject({ held: true, holders: 2, limit: 2 })
    const lock = await other.acquire(key) // the lock of the same key is another resource
    await lock.release()
    for (const p of permits) await p?.release()
    expect(await semaphore.inspect()).toMatchObject({ held: false })
  } finally {
    await locker.close()
    await other.close()
  }
})
