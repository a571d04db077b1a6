import { type FaultProxy, startEtcdCluster, startProxy } from '@baton-lock/test-matrix'
import { Etcd3 } from 'etcd3'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { lockerFor } from './helpers.js'
import { lostLatenessMs, recovery, runWorkers, violations } from './workload.js'

let cluster: Awaited<ReturnType<typeof startEtcdCluster>>

beforeAll(async () => {
  cluster = await startEtcdCluster(3)
}, 180_000)
afterAll(async () => {
  await cluster?.stop()
})

/** Index of the member that is the Raft leader now (asked of every live member). */
async function leaderIndex(skip: ReadonlySet<number> = new Set()): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    for (const [i, member] of cluster.members.entries()) {
      if (skip.has(i)) continue
      const client = new Etcd3({ hosts: [`${member.host}:${member.port}`] })
      try {
        const status = await client.maintenance.status({ deadline: Date.now() + 1_000 })
        if (status.leader === status.header.member_id) return i
      } catch {
        // member down or mid-election
      } finally {
        client.close()
      }
    }
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error('no etcd leader found')
}

async function underFault(label: string, fault: () => Promise<void>): Promise<void> {
  const lockers = [0, 1, 2].map(() => lockerFor(cluster.url))
  const key = `cluster-${label}`
  const ttlMs = 2_000
  let faultAtMs = Number.POSITIVE_INFINITY
  const startedMs = performance.now()
  const work = runWorkers({
    lockers,
    key,
    ttlMs,
    holdMs: 20,
    waitMs: 15_000,
    // bounded: 6 s of traffic after the fault (an election takes about 2.5 s), at most 40 s overall
    stop: () => performance.now() > Math.min(faultAtMs + 6_000, startedMs + 40_000),
  })
  try {
    await new Promise((r) => setTimeout(r, 1_500))
    faultAtMs = performance.now()
    await fault()
    const { windows, errors } = await work
    const { overlaps, fenceOrder } = violations(windows)
    const lateness = lostLatenessMs(windows)
    const { firstGrantMs, maxGapMs } = recovery(windows, faultAtMs)
    console.info(
      `etcd cluster, ${label}: ${windows.length} grants, ${errors} errors retried, first grant ${Math.round(firstGrantMs)} ms after the fault, longest gap between holders ${Math.round(maxGapMs)} ms, lost signals ${lateness.length} (latest ${lateness.length ? Math.round(Math.max(...lateness)) : '-'} ms vs validUntil)`,
    )
    expect(overlaps).toEqual([])
    expect(fenceOrder).toEqual([])
    for (const late of lateness) expect(late).toBeLessThan(50)
    expect(windows.filter((w) => w.startMs > faultAtMs).length).toBeGreaterThan(5)
    expect(firstGrantMs).toBeLessThan(10_000)
  } finally {
    await Promise.all(lockers.map((l) => l.close()))
  }
}

test('kill the leader while locks are held and others wait: no overlap, fences increase, service resumes', async () => {
  const leader = await leaderIndex()
  await underFault('leader-kill', () => cluster.members[leader]?.kill() ?? Promise.resolve())
  await cluster.members[leader]?.restart()
}, 90_000)

test('kill a follower that clients talk to: streams move to another member, no overlap', async () => {
  const leader = await leaderIndex()
  const follower = [0, 1, 2].find((i) => i !== leader) ?? 0
  await underFault('follower-kill', () => cluster.members[follower]?.kill() ?? Promise.resolve())
  await cluster.members[follower]?.restart()
}, 90_000)

test('partition the holder through the fault proxy: it is invalid (and signalled) before the contender is granted', async () => {
  const proxies: FaultProxy[] = await Promise.all(
    cluster.members.map((m) => startProxy({ host: m.host, port: m.port })),
  )
  const viaProxy = `etcd://${proxies.map((p) => `${p.host}:${p.port}`).join(',')}`
  const partitioned = lockerFor(viaProxy)
  const contender = lockerFor(cluster.url)
  try {
    const key = 'cluster-partition'
    const held = await partitioned.acquire(key, { ttlMs: 2_000 })
    let lostAtMs = Number.POSITIVE_INFINITY
    held.signal.addEventListener('abort', () => {
      lostAtMs = performance.now()
    })
    const waiting = contender.acquire(key, { ttlMs: 2_000, waitMs: 20_000 })
    // let one renewal go through, then cut the holder off (bytes held, sockets stay open)
    await new Promise((r) => setTimeout(r, 1_000))
    let validUntilMs = performance.now() + held.validForMs()
    const partitionedAtMs = performance.now()
    for (const p of proxies) p.hold()
    validUntilMs = Math.max(validUntilMs, performance.now() + held.validForMs())
    const next = await waiting
    const grantedAtMs = performance.now()
    console.info(
      `etcd cluster, partition: contender granted ${Math.round(grantedAtMs - partitionedAtMs)} ms after the partition; the holder's validity ended ${Math.round(grantedAtMs - validUntilMs)} ms and its signal fired ${Math.round(grantedAtMs - lostAtMs)} ms before the grant`,
    )
    expect(held.isValid()).toBe(false)
    expect(validUntilMs).toBeLessThan(grantedAtMs)
    expect(lostAtMs).toBeLessThan(grantedAtMs)
    expect(next.fence > held.fence).toBe(true)
    for (const p of proxies) p.heal()
    await held.release()
    await next.release()
  } finally {
    for (const p of proxies) p.heal()
    await Promise.all([partitioned.close(), contender.close()])
    await Promise.all(proxies.map((p) => p.close()))
  }
}, 60_000)
