import { Locker, type LockHandle } from '@baton-lock/core'
import { startZookeeper } from '@baton-lock/test-matrix'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { sortedLockNodes, ZookeeperDriver } from '../src/index.js'
import { longOf } from '../src/zk-client.js'
import { type AdminClient, adminClient, monitored } from './zk-admin.js'

// Issue #18: one Locker holding thousands of locks on one session lost most of them,
// because every renewal read each lock node (thousands of reads per interval queued on
// one socket behind the acquisitions). One heartbeat per session now confirms every lock
// whose node's watch has not fired. The server counts the requests: the hold must cost
// far fewer than one per lock, so the check does not rest on timing.
// The TTL is the ZooKeeper session timeout: a reply missing for that long ends the
// session (correctly: the server may have expired it). 1.5 s did so once in a full test
// run (4 workers on 2 cores); 3 s keeps the point (thousands of locks, one socket) with
// room for a loaded machine.
const LOCKS = Number(process.env.BATON_SCALE_LOCKS ?? 7_000)
const TTL_MS = Number(process.env.BATON_SCALE_TTL_MS ?? 3_000)
const CONCURRENCY = 100

let server: Awaited<ReturnType<typeof startZookeeper>>
let admin: AdminClient

beforeAll(async () => {
  server = await startZookeeper()
  admin = await adminClient(server.url)
}, 120_000)
afterAll(async () => {
  admin?.close()
  await server?.stop()
})

async function inLanes<T>(count: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array(count)
  let next = 0
  const lane = async () => {
    while (next < count) {
      const i = next++
      out[i] = await task(i)
    }
  }
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, count) }, lane))
  return out
}

test(`one Locker holds ${LOCKS} locks with TTL ${TTL_MS} ms for 3.5 TTLs: none lost, every one confirmed and its node still on the session; a node deleted by another session is seen`, async () => {
  const driver = new ZookeeperDriver({ url: server.url, minSessionTimeoutMs: 500 })
  const lost: string[] = []
  const renewed = new Map<string, number>()
  const locker = new Locker(driver, {
    ttlMs: TTL_MS,
    namespace: 'scale-hold',
    onEvent: (event) => {
      if (event.type === 'lost') lost.push(event.key)
      if (event.type === 'renewed') renewed.set(event.key, (renewed.get(event.key) ?? 0) + 1)
    },
  })
  try {
    const handles: LockHandle[] = await inLanes(LOCKS, (i) =>
      locker.acquire(`k${i}`, { waitMs: 30_000 }),
    )
    const heldAtMs = performance.now()
    const renewedAtHold = new Map(renewed)
    const packetsAtHold = await monitored(server, 'zk_packets_received')
    await new Promise((r) => setTimeout(r, TTL_MS * 3.5))
    const packets = (await monitored(server, 'zk_packets_received')) - packetsAtHold
    expect(lost, 'locks lost during the hold').toEqual([])
    // Fewer than one request per lock in 3.5 TTLs: heartbeats shared by the renewals due at
    // one moment (about 1,500 here). A renewal that reads its lock's node sends LOCKS every
    // third of the TTL (97,538 when that was tried).
    expect(packets, 'requests the server received during the hold').toBeLessThan(LOCKS)
    const states = new Map<string, number>()
    for (const h of handles) states.set(h.state, (states.get(h.state) ?? 0) + 1)
    // valid: held, or suspended while a renewal is in flight on a busy machine
    expect((states.get('held') ?? 0) + (states.get('suspended') ?? 0)).toBe(LOCKS)
    // Confirmed during the hold, again and again: at least 3 renewals each in 3.5 TTLs
    // (one every third of the TTL; 3 leaves room for a slow machine).
    const short = handles.filter(
      (h) => (renewed.get(h.key) ?? 0) - (renewedAtHold.get(h.key) ?? 0) < 3,
    )
    expect(short.map((h) => h.key).slice(0, 5), 'renewed fewer than 3 times').toEqual([])
    for (const h of handles) expect(h.validForMs()).toBeGreaterThan(0)
    expect(performance.now() - heldAtMs).toBeGreaterThanOrEqual(TTL_MS * 3.5)

    // On the server, from another session: every lock path has exactly one node; for every
    // 20th lock, the Locker's session owns it and its czxid is the handle's fence.
    const nodes = await inLanes(LOCKS, async (i) => {
      const path = driver.lockPathOf(`scale-hold:k${i}`)
      const children = sortedLockNodes(await admin.getChildren(path))
      const first = children[0]
      const stat =
        i % 20 === 0 && first !== undefined ? await admin.exists(`${path}/${first}`) : null
      return { count: children.length, stat }
    })
    expect(nodes.filter((n) => n.count !== 1).length).toBe(0)
    const sampled = nodes.flatMap((n, i) => (i % 20 === 0 ? [{ stat: n.stat, i }] : []))
    const owners = new Set(sampled.map(({ stat }) => stat && longOf(stat.ephemeralOwner)))
    expect(owners.size).toBe(1)
    expect(owners.has(null)).toBe(false)
    const wrong = sampled.filter(
      ({ stat, i }) => stat === null || longOf(stat.czxid) !== handles[i]?.fence,
    )
    expect(wrong.length).toBe(0)
    // A node deleted by another session (an operator, `baton release --force`) is still seen
    // at the next renewal: its watch fires, and the renewal reads the node instead.
    const dropped = [1, 2, 3, 500, LOCKS - 1]
    for (const i of dropped) {
      const path = driver.lockPathOf(`scale-hold:k${i}`)
      const [first] = sortedLockNodes(await admin.getChildren(path))
      await admin.remove(`${path}/${first}`)
    }
    const seenBy = performance.now() + TTL_MS * 2
    while (lost.length < dropped.length && performance.now() < seenBy) {
      await new Promise((r) => setTimeout(r, 20))
    }
    expect(lost.sort()).toEqual(dropped.map((i) => `k${i}`).sort())
    const stillValid = handles.filter((h) => h.isValid()).length
    expect(stillValid).toBe(LOCKS - dropped.length)
    await inLanes(LOCKS, (i) => (handles[i] as LockHandle).release())
    expect(lost.length).toBe(dropped.length)
  } finally {
    await locker.close()
  }
}, 120_000)
