import { Locker } from '@baton-lock/core'
import { startZookeeper } from '@baton-lock/test-matrix'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { LOCAL_ADDRESS, sortedLockNodes, ZookeeperDriver } from '../src/index.js'
import { CuratorAgent } from './curator-agent.js'
import { type AdminClient, adminClient } from './zk-admin.js'

// Real Apache Curator 5.4 InterProcessMutex (Debian libcurator-recipes-java) against
// Baton on the same lock paths. One JVM for the whole file: JVM start-up is slow here.
let server: Awaited<ReturnType<typeof startZookeeper>>
let agent: CuratorAgent
let admin: AdminClient
const lockers: Locker[] = []
const CURATOR_NODE =
  /^_c_[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}-lock-\d{10}$/

beforeAll(async () => {
  server = await startZookeeper()
  admin = await adminClient(server.url)
  agent = await CuratorAgent.start(server.url.replace(/^zk:\/\//, ''), 10_000)
  await Promise.all([agent.newClient('c1'), agent.newClient('c2')])
}, 300_000)
afterAll(async () => {
  await Promise.allSettled(lockers.map((l) => l.close()))
  await agent?.stop()
  admin?.close()
  await server?.stop()
})

function locker(): { locker: Locker; driver: ZookeeperDriver } {
  const driver = new ZookeeperDriver({ url: server.url, minSessionTimeoutMs: 500 })
  const made = new Locker(driver, { ttlMs: 10_000 })
  lockers.push(made)
  return { locker: made, driver }
}

const now = () => process.hrtime.bigint()
const replyOf = (verb: string, name: string) => (w: readonly string[]) =>
  w[0] === verb && w[1] === name

/**
 * Waits until `path` has `count` lock nodes, the same in two looks 100 ms apart (so arrival
 * order is fixed): Baton's Locker first tries once (a node created and deleted again at
 * once) before it waits with a node of its own.
 */
async function untilNodes(path: string, count: number): Promise<string[]> {
  const deadline = performance.now() + 30_000
  let last = ''
  for (;;) {
    const nodes = sortedLockNodes(await admin.getChildren(path).catch(() => []))
    if (nodes.length === count && nodes.join() === last) return nodes
    last = nodes.length === count ? nodes.join() : ''
    if (performance.now() > deadline) throw new Error(`${path} never had ${count} lock nodes`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

test('Curator holding blocks Baton; Baton is granted only after Curator released', async () => {
  const { locker: baton, driver } = locker()
  const key = 'interop:curator-holds'
  const path = driver.lockPathOf(key)
  await agent.ask(`acquire c1 ${path} 30000`, replyOf('granted', 'c1'))
  const [curatorNode] = await untilNodes(path, 1)
  expect(curatorNode).toMatch(CURATOR_NODE)
  expect((await admin.getData(`${path}/${curatorNode}`)).data.length).toBeGreaterThan(0)
  expect(await baton.tryAcquire(key)).toBeNull()
  const waiting = baton.acquire(key, { waitMs: 30_000 })
  const nodes = await untilNodes(path, 2)
  expect(nodes[1]).toMatch(CURATOR_NODE) // Baton's node has Curator's exact shape
  const baton2 = (await admin.getData(`${path}/${nodes[1]}`)).data
  expect(baton2.toString()).toBe(LOCAL_ADDRESS.toString())
  const released = await agent.ask(`release c1 ${path}`, replyOf('released', 'c1'))
  const handle = await waiting
  const grantedAt = now()
  expect(grantedAt > BigInt(released[2] ?? '0')).toBe(true)
  const curatorStat = await admin.exists(`${path}/${nodes[1]}`)
  expect(curatorStat?.czxid.readBigUInt64BE(0)).toBe(handle.fence)
  await handle.release()
  expect(await admin.getChildren(path)).toEqual([])
})

test('Baton holding blocks Curator; Curator deletes its node after its timeout and sees Baton as a participant', async () => {
  const { locker: baton, driver } = locker()
  const key = 'interop:baton-holds'
  const path = driver.lockPathOf(key)
  const handle = await baton.acquire(key)
  const [batonNode] = await untilNodes(path, 1)
  const timedOut = await agent.ask(`acquire c1 ${path} 500`, (w) => w[1] === 'c1' && w[0] !== 'new')
  expect(timedOut[0]).toBe('timeout')
  expect(await admin.getChildren(path)).toEqual([batonNode]) // Curator cleaned up after itself
  const participants = await agent.ask(`participants c1 ${path}`, replyOf('participants', 'c1'))
  expect(participants[2]?.split(',')).toEqual([`${path}/${batonNode}`])
  agent.send(`acquire c1 ${path} 30000`)
  await untilNodes(path, 2)
  const releasedAt = now()
  await handle.release()
  const granted = await agent.next(replyOf('granted', 'c1'))
  expect(BigInt(granted[2] ?? '0') > releasedAt).toBe(true)
  await agent.ask(`release c1 ${path}`, replyOf('released', 'c1'))
})

test('FIFO across Curator and Baton: grants follow arrival order, windows never overlap, fences increase', async () => {
  const a = locker()
  const b = locker()
  const key = 'interop:fifo'
  const path = a.driver.lockPathOf(key)
  const first = await a.locker.acquire(key)
  agent.send(`acquire c1 ${path} 60000`)
  await untilNodes(path, 2)
  const second = b.locker.acquire(key, { waitMs: 60_000 })
  await untilNodes(path, 3)
  agent.send(`acquire c2 ${path} 60000`)
  const order = await untilNodes(path, 4)
  // A window ends when its holder starts to release (Curator's agent stamps `released` so too):
  // the next holder may be granted while the releasing call is still waiting for its reply.
  const windows: Array<{ who: string; from: bigint; to: bigint }> = []
  let t = now()
  await first.release()
  windows.push({ who: 'baton-a', from: 0n, to: t })
  const c1 = await agent.next(replyOf('granted', 'c1'))
  const c1Released = await agent.ask(`release c1 ${path}`, replyOf('released', 'c1'))
  windows.push({ who: 'c1', from: BigInt(c1[2] ?? '0'), to: BigInt(c1Released[2] ?? '0') })
  const handle = await second
  const grantedAt = now()
  t = now()
  await handle.release()
  windows.push({ who: 'baton-b', from: grantedAt, to: t })
  const c2 = await agent.next(replyOf('granted', 'c2'))
  const c2Released = await agent.ask(`release c2 ${path}`, replyOf('released', 'c2'))
  windows.push({ who: 'c2', from: BigInt(c2[2] ?? '0'), to: BigInt(c2Released[2] ?? '0') })
  for (let i = 1; i < windows.length; i++) {
    const [prev, next] = [windows[i - 1], windows[i]]
    expect(next?.from ?? 0n, `${next?.who} granted before ${prev?.who} released`).toBeGreaterThan(
      prev?.to ?? 0n,
    )
  }
  expect(first.fence < handle.fence).toBe(true)
  expect(order).toHaveLength(4)
})
