import { Locker, type LockHandle } from '@baton-lock/core'
import {
  type ClusterHandle,
  fourLetterWord,
  type ServerHandle,
  startZookeeperEnsemble,
} from '@baton-lock/test-matrix'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { ZookeeperDriver } from '../src/index.js'

// Three servers; workers contend for one key through every fault, and the history is
// checked for overlapping validity windows and fence order (no retry hides a violation).
let ensemble: ClusterHandle

beforeAll(async () => {
  ensemble = await startZookeeperEnsemble(3)
}, 300_000)
afterAll(async () => {
  await ensemble?.stop()
})

async function leader(): Promise<ServerHandle> {
  const deadline = performance.now() + 60_000
  while (performance.now() < deadline) {
    for (const member of ensemble.members) {
      if ((await fourLetterWord(member.host, member.port, 'srvr')).includes('Mode: leader'))
        return member
    }
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error('no ZooKeeper leader within 60 s')
}

/** The member that serves the most client connections (`stat` lists them). */
async function busiest(): Promise<ServerHandle> {
  let best = ensemble.members[0] as ServerHandle
  let most = -1
  for (const member of ensemble.members) {
    const clients = (await fourLetterWord(member.host, member.port, 'stat'))
      .split('\n')
      .filter((l) => l.includes('(queued=')).length
    if (clients > most) [best, most] = [member, clients]
  }
  return best
}

interface Window {
  readonly worker: number
  readonly fence: bigint
  readonly fromNs: bigint
  toNs: bigint
}

test('3 servers: kill the server the clients talk to, kill the leader, restart all: no overlapping windows, fences increase', async () => {
  const ttlMs = 4_000
  const windows: Window[] = []
  const grantsNs: bigint[] = []
  let errors = 0
  let stop = false
  const lockers = [0, 1, 2].map(
    () =>
      new Locker(new ZookeeperDriver({ url: ensemble.url, minSessionTimeoutMs: 500 }), { ttlMs }),
  )
  const now = () => process.hrtime.bigint()
  async function work(worker: number, locker: Locker): Promise<void> {
    while (!stop) {
      let handle: LockHandle
      try {
        handle = await locker.acquire('ensemble:key', { waitMs: 30_000 })
      } catch {
        errors++
        await new Promise((r) => setTimeout(r, 50))
        continue
      }
      const window: Window = { worker, fence: handle.fence, fromNs: now(), toNs: 0n }
      grantsNs.push(window.fromNs)
      windows.push(window)
      handle.signal.addEventListener('abort', () => {
        if (window.toNs === 0n) window.toNs = now()
      })
      await new Promise((r) => setTimeout(r, 20))
      // the window ends where the holder last knew itself valid
      if (window.toNs === 0n) window.toNs = now()
      await handle.release().catch(() => {})
      await new Promise((r) => setTimeout(r, 5))
    }
  }
  const running = lockers.map((l, i) => work(i, l))
  /** Time from now until the next grant after `fromNs`, in ms. */
  async function nextGrantAfter(fromNs: bigint): Promise<number> {
    const deadline = performance.now() + 60_000
    while (performance.now() < deadline) {
      const at = grantsNs.find((g) => g > fromNs)
      if (at !== undefined) return Number(at - fromNs) / 1e6
      await new Promise((r) => setTimeout(r, 20))
    }
    throw new Error('no grant within 60 s of the fault')
  }
  const report: string[] = []
  try {
    await nextGrantAfter(0n)
    const served = await busiest()
    let t = now()
    await served.kill()
    report.push(
      `kill of the server most clients use (${served.name}): next grant after ${Math.round(await nextGrantAfter(t))} ms`,
    )
    await served.restart()
    const lead = await leader()
    t = now()
    await lead.kill()
    report.push(
      `kill of the leader (${lead.name}): next grant after ${Math.round(await nextGrantAfter(t))} ms`,
    )
    await lead.restart()
    t = now()
    await Promise.all(ensemble.members.map((m) => m.kill()))
    await Promise.all(ensemble.members.map((m) => m.restart()))
    report.push(
      `kill and restart of all servers: next grant after ${Math.round(await nextGrantAfter(t))} ms`,
    )
    const settled = grantsNs.length
    const deadline = performance.now() + 30_000
    while (grantsNs.length < settled + 20 && performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20))
    }
  } finally {
    stop = true
    await Promise.all(running)
    await Promise.all(lockers.map((l) => l.close()))
  }
  const sorted = [...windows].sort((a, b) => (a.fromNs < b.fromNs ? -1 : 1))
  let overlaps = 0
  let fenceInversions = 0
  for (let i = 1; i < sorted.length; i++) {
    const [prev, next] = [sorted[i - 1] as Window, sorted[i] as Window]
    if (next.fromNs < prev.toNs) overlaps++
    if (next.fence <= prev.fence) fenceInversions++
  }
  const epochs = new Set(sorted.map((w) => w.fence >> 32n))
  console.info(
    `zookeeper ensemble: ${sorted.length} grants, ${errors} failed acquires during faults, ` +
      `${overlaps} overlapping windows, ${fenceInversions} fence inversions, epochs seen ${[...epochs].join(',')}; ${report.join('; ')}`,
  )
  expect(overlaps).toBe(0)
  expect(fenceInversions).toBe(0)
  expect(sorted.length).toBeGreaterThan(20)
  expect(epochs.size).toBeGreaterThan(1) // czxid's high 32 bits moved with each new leader
}, 600_000)
