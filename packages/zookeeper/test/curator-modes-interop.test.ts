import { Locker } from '@baton-lock/core'
import { driverRequest, uniqueKey } from '@baton-lock/core/driver'
import { startZookeeper } from '@baton-lock/test-matrix'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { ZookeeperDriver, type ZookeeperDriverOptions } from '../src/index.js'
import { ZK, zkErrorCode } from '../src/zk-client.js'
import { CuratorAgent } from './curator-agent.js'
import { type AdminClient, adminClient } from './zk-admin.js'

// Real Apache Curator 5.4 InterProcessReadWriteLock, InterProcessSemaphoreV2 and
// LeaderSelector (Debian libcurator-recipes-java) against Baton's shared locks, semaphores
// and elections on the same paths. One JVM for the whole file.
let server: Awaited<ReturnType<typeof startZookeeper>>
let agent: CuratorAgent
let admin: AdminClient
const closers: Array<{ close(): Promise<void> }> = []

beforeAll(async () => {
  server = await startZookeeper()
  agent = await CuratorAgent.start(server.url.replace(/^zk:\/\//, ''), 10_000)
  admin = await adminClient(server.url)
  await Promise.all([agent.newClient('c1'), agent.newClient('c2')])
}, 300_000)
afterAll(async () => {
  await Promise.allSettled(closers.map((c) => c.close()))
  await agent?.stop()
  admin?.close()
  await server?.stop()
})

function driver(options: Partial<ZookeeperDriverOptions> = {}): ZookeeperDriver {
  const made = new ZookeeperDriver({ url: server.url, minSessionTimeoutMs: 500, ...options })
  closers.push(made)
  return made
}

const now = () => process.hrtime.bigint()
const replyOf = (verb: string, name: string) => (w: readonly string[]) =>
  w[0] === verb && w[1] === name
const outcomeOf = (name: string) => (w: readonly string[]) =>
  (w[0] === 'granted' || w[0] === 'timeout') && w[1] === name
/** Children of `path`; none when it does not exist (any other error fails the test). */
const children = (path: string) =>
  admin.getChildren(path).catch((err: unknown) => {
    if (zkErrorCode(err) === ZK.NO_NODE) return [] as string[]
    throw err
  })

/** Waits until `path` has `count` children; bounded. */
async function untilChildren(path: string, count: number): Promise<void> {
  const deadline = performance.now() + 30_000
  while ((await children(path)).length !== count) {
    if (performance.now() > deadline) throw new Error(`${path} never had ${count} children`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

test('a Curator write lock blocks a Baton shared acquire; Baton reads once Curator released', async () => {
  const d = driver()
  const key = uniqueKey('interop:rw-curator-writes')
  const path = d.lockPathOf(key)
  await agent.ask(`rwacquire c1 ${path} write 30000`, replyOf('granted', 'c1'))
  const [writeNode] = await children(path)
  expect(writeNode).toMatch(/^_c_[0-9a-f-]{36}-__WRIT__\d{10}$/)
  expect(await d.acquire(driverRequest(key, { mode: 'shared' }))).toBeNull()
  expect(await d.inspect(key)).toMatchObject({ held: true, mode: 'exclusive' })
  const reading = d.acquire(driverRequest(key, { mode: 'shared', waitMs: 30_000 }))
  await untilChildren(path, 2)
  const released = await agent.ask(`rwrelease c1 ${path} write`, replyOf('released', 'c1'))
  const lease = await reading
  expect(lease).not.toBeNull()
  expect(now() > BigInt(released[2] ?? '0')).toBe(true)
  if (lease) await d.release(lease)
  expect(await children(path)).toEqual([])
})

test('Baton readers block a Curator writer and share with a Curator reader', async () => {
  const [a, b] = [driver(), driver()]
  const key = uniqueKey('interop:rw-baton-reads')
  const path = a.lockPathOf(key)
  const r1 = await a.acquire(driverRequest(key, { mode: 'shared' }))
  const r2 = await b.acquire(driverRequest(key, { mode: 'shared' }))
  expect(r1 !== null && r2 !== null).toBe(true)
  const curatorRead = await agent.ask(`rwacquire c2 ${path} read 10000`, outcomeOf('c2'))
  expect(curatorRead[0]).toBe('granted')
  await agent.ask(`rwrelease c2 ${path} read`, replyOf('released', 'c2'))
  const timedOut = await agent.ask(`rwacquire c1 ${path} write 500`, outcomeOf('c1'))
  expect(timedOut[0]).toBe('timeout')
  expect(await children(path)).toHaveLength(2) // Curator deleted its write node
  agent.send(`rwacquire c1 ${path} write 30000`)
  await untilChildren(path, 3)
  if (r1) await a.release(r1)
  expect(await children(path)).toHaveLength(2) // still one Baton reader before the writer
  const releasedAt = now()
  if (r2) await b.release(r2)
  const granted = await agent.next(outcomeOf('c1'))
  expect(granted[0]).toBe('granted')
  expect(BigInt(granted[2] ?? '0') > releasedAt).toBe(true)
  // and the Curator writer now blocks Baton readers and Baton's exclusive mode
  expect(await a.acquire(driverRequest(key, { mode: 'shared' }))).toBeNull()
  expect(await a.acquire(driverRequest(key))).toBeNull()
  await agent.ask(`rwrelease c1 ${path} write`, replyOf('released', 'c1'))
})

test('Curator InterProcessSemaphoreV2 with the same limit counts Baton leases: limit holders across both', async () => {
  const [a, b] = [driver(), driver()]
  const key = uniqueKey('interop:semaphore')
  const path = a.semaphorePathOf(key)
  const req = (waitMs = 0) => driverRequest(key, { mode: 'semaphore', limit: 3, waitMs })
  const p1 = await a.acquire(req())
  const p2 = await b.acquire(req())
  expect(p1 !== null && p2 !== null).toBe(true)
  const c1 = await agent.ask(`semacquire c1 ${path} 3 10000`, outcomeOf('c1'))
  expect(c1[0]).toBe('granted')
  expect(await children(`${path}/leases`)).toHaveLength(3)
  const c2 = await agent.ask(`semacquire c2 ${path} 3 500`, outcomeOf('c2'))
  expect(c2[0]).toBe('timeout')
  expect(await a.acquire(req())).toBeNull()
  expect(await a.inspect(key, 'semaphore')).toMatchObject({ holders: 3, limit: 3 })
  // a Baton waiter gets the lease Curator gives back
  const waiting = a.acquire(req(30_000))
  await untilChildren(`${path}/locks`, 1)
  const released = await agent.ask(`semrelease c1 ${path}`, replyOf('released', 'c1'))
  const p3 = await waiting
  expect(p3).not.toBeNull()
  expect(now() > BigInt(released[2] ?? '0')).toBe(true)
  // a Curator waiter gets the lease Baton gives back
  agent.send(`semacquire c2 ${path} 3 30000`)
  await untilChildren(`${path}/locks`, 1)
  // the waiter's lease exists while it waits (the recipe's over-limit node): 3 hold
  await untilChildren(`${path}/leases`, 4)
  expect(await a.inspect(key, 'semaphore')).toMatchObject({ holders: 3, limit: 3 })
  const releasedAt = now()
  if (p1) await a.release(p1)
  const granted = await agent.next(outcomeOf('c2'))
  expect(granted[0]).toBe('granted')
  expect(BigInt(granted[2] ?? '0') > releasedAt).toBe(true)
  expect(await children(`${path}/leases`)).toHaveLength(3)
  await agent.ask(`semrelease c2 ${path}`, replyOf('released', 'c2'))
  if (p2) await b.release(p2)
  if (p3) await a.release(p3)
  expect(await children(`${path}/leases`)).toEqual([])
})

test('Curator LeaderSelector and a Baton election: each names the other leader by its id', async () => {
  const d = driver()
  const locker = new Locker(d, { ttlMs: 10_000 })
  closers.push(locker)
  const key = uniqueKey('interop:election')
  const path = d.lockPathOf(key)
  const election = locker.election(key, { value: 'baton-node-1' })
  await election.campaign()
  const seen = await agent.ask(`leader c1 ${path}`, replyOf('leader', 'c1'))
  expect(seen[2]).toBe('baton-node-1')
  await agent.ask(`lead c2 ${path} curator-node-2`, replyOf('campaigning', 'c2'))
  await untilChildren(path, 2)
  expect((await election.leader())?.value).toBe('baton-node-1')
  const resignedAt = now()
  await election.resign()
  const leading = await agent.next(replyOf('leading', 'c2'))
  expect(BigInt(leading[2] ?? '0') > resignedAt).toBe(true)
  expect((await election.leader())?.value).toBe('curator-node-2')
  const campaign = election.campaign({ waitMs: 30_000 })
  await untilChildren(path, 2)
  expect(election.isLeader()).toBe(false)
  await agent.ask(`resign c2`, replyOf('resigned', 'c2'))
  await campaign
  expect((await election.leader())?.value).toBe('baton-node-1')
  await election.resign()
  expect(await election.leader()).toBeNull()
})

test("exclusiveRecipe 'InterProcessReadWriteLock': Baton's exclusive node is a __WRIT__ node that Curator readers and writers wait for", async () => {
  const d = driver({ exclusiveRecipe: 'InterProcessReadWriteLock' })
  const key = uniqueKey('interop:rw-recipe')
  const path = d.lockPathOf(key)
  const lease = await d.acquire(driverRequest(key))
  expect(lease).not.toBeNull()
  const [node] = await children(path)
  expect(node).toMatch(/^_c_[0-9a-f-]{36}-__WRIT__\d{10}$/)
  expect((await agent.ask(`rwacquire c1 ${path} read 500`, outcomeOf('c1')))[0]).toBe('timeout')
  expect((await agent.ask(`rwacquire c2 ${path} write 500`, outcomeOf('c2')))[0]).toBe('timeout')
  expect(await children(path)).toEqual([node])
  agent.send(`rwacquire c1 ${path} read 30000`)
  await untilChildren(path, 2)
  const releasedAt = now()
  if (lease) await d.release(lease)
  const granted = await agent.next(outcomeOf('c1'))
  expect(granted[0]).toBe('granted')
  expect(BigInt(granted[2] ?? '0') > releasedAt).toBe(true)
  // the Curator reader now blocks Baton's exclusive mode, not its shared mode
  expect(await d.acquire(driverRequest(key))).toBeNull()
  const reader = await d.acquire(driverRequest(key, { mode: 'shared' }))
  expect(reader).not.toBeNull()
  if (reader) await d.release(reader)
  await agent.ask(`rwrelease c1 ${path} read`, replyOf('released', 'c1'))
})

test('the documented gap: Baton readers wait for a Curator InterProcessMutex holder, but that recipe ignores Baton readers', async () => {
  const d = driver()
  const key = uniqueKey('interop:mutex-vs-readers')
  const path = d.lockPathOf(key)
  await agent.ask(`acquire c1 ${path} 10000`, replyOf('granted', 'c1'))
  expect(await d.acquire(driverRequest(key, { mode: 'shared' }))).toBeNull()
  await agent.ask(`release c1 ${path}`, replyOf('released', 'c1'))
  const reader = await d.acquire(driverRequest(key, { mode: 'shared' }))
  expect(reader).not.toBeNull()
  // Curator's mutex sorts `__READ__` nodes after its own and is granted beside the reader
  const curator = await agent.ask(`acquire c1 ${path} 5000`, outcomeOf('c1'))
  expect(curator[0]).toBe('granted')
  await agent.ask(`release c1 ${path}`, replyOf('released', 'c1'))
  if (reader) await d.release(reader)
})
