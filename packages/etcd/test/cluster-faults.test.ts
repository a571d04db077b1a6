import type { Locker, LockHandle } from '@baton-lock/core'
import { type EtcdCluster, startEtcdCluster } from '@baton-lock/test-matrix'
import { Etcd3 } from 'etcd3'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { lockerFor } from './helpers.js'
import { violations, type Window } from './workload.js'

// Faults on one member of a 3-member cluster whose peer traffic runs through the harness's
// peer proxies: the member a client talks to dies, or is cut off from the other two
// (minority partition) while its clients still reach it. Clients that must know which
// member they talk to get that member's endpoint only.

const TTL_MS = 2_000
/** etcd's default election timeout (test-matrix starts members with it). */
const ELECTION_MS = 1_000

let cluster: EtcdCluster

beforeAll(async () => {
  cluster = await startEtcdCluster(3, { peerProxies: true })
}, 180_000)
afterAll(async () => {
  await cluster?.stop()
})

/**
 * Largest lateness of a 10 ms interval timer in this process while it runs: the lost signal
 * is a timer too, so it may trail `validUntil` by that much (isValid() never does).
 */
function timerLateness() {
  let maxMs = 0
  let expected = performance.now() + 10
  const timer = setInterval(() => {
    const nowMs = performance.now()
    maxMs = Math.max(maxMs, nowMs - expected)
    expected = nowMs + 10
  }, 10)
  return {
    get maxMs() {
      return maxMs
    },
    stop: () => clearInterval(timer),
  }
}

const endpoint = (i: number) => {
  const m = cluster.members[i]
  if (m === undefined) throw new Error(`no member ${i}`)
  return `${m.host}:${m.port}`
}
const only = (...members: number[]) => `etcd://${members.map(endpoint).join(',')}`

/** Index of the Raft leader, asked of each member in `among`. */
async function leaderIndex(among: readonly number[] = [0, 1, 2]): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    for (const i of among) {
      const client = new Etcd3({ hosts: [endpoint(i)] })
      try {
        const status = await client.maintenance.status({ deadline: Date.now() + 1_000 })
        if (status.leader !== '0' && status.leader === status.header.member_id) return i
      } catch {
        // down or mid-election
      } finally {
        client.close()
      }
    }
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error('no etcd leader found')
}

/** Waits (bounded) until every member commits a write: the cluster settled after a fault. */
async function everyMemberServes(timeoutMs = 20_000): Promise<void> {
  const until = performance.now() + timeoutMs
  for (const i of [0, 1, 2]) {
    const client = new Etcd3({ hosts: [endpoint(i)] })
    try {
      for (;;) {
        try {
          await client
            .put('cluster-faults/settled')
            .value(String(i))
            .options({ deadline: Date.now() + 1_000 })
            .exec()
          break
        } catch (err) {
          if (performance.now() > until) throw err
          await new Promise((r) => setTimeout(r, 100))
        }
      }
    } finally {
      client.close()
    }
  }
}

/** `promise`, with `label` in the message of its rejection (which step of a fault test failed). */
async function step<T>(label: string, promise: Promise<T>): Promise<T> {
  try {
    return await promise
  } catch (err) {
    throw new Error(`${label}: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
  }
}

/**
 * Follows one grant until it ends (release, lost signal or validity end), sampling the
 * latest validity end the holder could believe every 5 ms. `release()` ends it and
 * releases (errors ignored: the member may be gone).
 */
function follow(worker: number, handle: LockHandle) {
  const startMs = performance.now()
  let validUntilMs = startMs + handle.validForMs()
  let lostAtMs: number | undefined
  let released = false
  handle.signal.addEventListener('abort', () => {
    lostAtMs ??= performance.now()
  })
  const ended = (async (): Promise<Window> => {
    for (;;) {
      const nowMs = performance.now()
      if (released || !handle.isValid()) {
        const endMs = Math.min(lostAtMs ?? nowMs, nowMs)
        return { worker, fence: handle.fence, startMs, endMs, validUntilMs, lostAtMs }
      }
      validUntilMs = Math.max(validUntilMs, nowMs + handle.validForMs())
      await new Promise((r) => setTimeout(r, 5))
    }
  })()
  return {
    handle,
    ended,
    get lostAtMs() {
      return lostAtMs
    },
    get validUntilMs() {
      return validUntilMs
    },
    async release(): Promise<Window> {
      const window = handle.isValid() ? await stopAt(ended) : await ended
      await handle.release().catch(() => undefined)
      return window
    },
  }
  async function stopAt(p: Promise<Window>) {
    released = true
    return p
  }
}

/** Acquires `key` through `locker`, retrying errors (a member down) until `untilMs`; undefined when never granted. */
async function acquireBy(
  locker: Locker,
  key: string,
  untilMs: number,
): Promise<LockHandle | undefined> {
  while (performance.now() < untilMs) {
    const waitMs = Math.max(1, Math.min(5_000, untilMs - performance.now()))
    try {
      return await locker.acquire(key, { ttlMs: TTL_MS, waitMs })
    } catch {
      await new Promise((r) => setTimeout(r, 100))
    }
  }
  return undefined
}

test('kill the member the client talks to: its holder is invalid before anyone else is granted, waiters on other members and then its own waiter recover', async () => {
  await everyMemberServes()
  const leader = await leaderIndex()
  // The client talks to the leader only (the worst case: its lease survives an election).
  const pinned = leader
  const others = [0, 1, 2].filter((i) => i !== pinned)
  const holderLocker = lockerFor(only(pinned))
  const pinnedWaiter = lockerFor(only(pinned))
  const otherWaiter = lockerFor(only(...others))
  const key = 'member-kill'
  const lag = timerLateness()
  try {
    const holder = follow(0, await step('holder', holderLocker.acquire(key, { ttlMs: TTL_MS })))
    const waiting = otherWaiter.acquire(key, { ttlMs: TTL_MS, waitMs: 30_000 })
    waiting.catch(() => {}) // awaited below
    await new Promise((r) => setTimeout(r, 300))
    const killedAtMs = performance.now()
    await cluster.members[pinned]?.kill()
    // The other member's waiter: granted once the new leader expired the holder's lease
    // (an election, then the full TTL again: a new leader refreshes every lease).
    const next = follow(1, await step('waiter on the other members', waiting))
    const grantedAtMs = performance.now()
    const holderWindow = await holder.ended
    // The pinned client's own waiter cannot be served while its member is down: it is
    // granted after the member is back (the key is held by `next` until then).
    const pinnedAttempt = acquireBy(pinnedWaiter, key, performance.now() + 40_000)
    await new Promise((r) => setTimeout(r, 500))
    const nextWindow = await next.release()
    const restartAtMs = performance.now()
    await cluster.members[pinned]?.restart()
    const restartedAtMs = performance.now()
    const late = await pinnedAttempt
    const lateGrantedAtMs = performance.now()
    expect(late).toBeDefined()
    const lateWindow = await follow(2, late as LockHandle).release()
    console.info(
      `etcd cluster, kill the member the client talks to: holder invalid ${Math.round(holderWindow.endMs - killedAtMs)} ms after the kill (lost signal ${holder.lostAtMs === undefined ? '-' : Math.round(holder.lostAtMs - holderWindow.validUntilMs)} ms vs validUntil), other member's waiter granted ${Math.round(grantedAtMs - killedAtMs)} ms after the kill, pinned waiter granted ${Math.round(lateGrantedAtMs - restartedAtMs)} ms after its member was back (restart took ${Math.round(restartedAtMs - restartAtMs)} ms; timer lateness up to ${Math.round(lag.maxMs)} ms)`,
    )
    const windows = [holderWindow, nextWindow, lateWindow].sort((a, b) => a.startMs - b.startMs)
    expect(violations(windows)).toEqual({ overlaps: [], fenceOrder: [] })
    // The holder's lost signal no later than its validity end, within a TTL of the kill.
    expect(holder.lostAtMs).toBeDefined()
    expect((holder.lostAtMs as number) - holderWindow.validUntilMs).toBeLessThan(50 + lag.maxMs)
    expect(holderWindow.endMs - killedAtMs).toBeLessThanOrEqual(TTL_MS + 50 + lag.maxMs)
    expect(grantedAtMs).toBeGreaterThan(holderWindow.validUntilMs)
    // Stated bounds (generous): election (a few election timeouts) plus twice the TTL;
    // the pinned waiter within 15 s of its member being back.
    expect(grantedAtMs - killedAtMs).toBeLessThan(5 * ELECTION_MS + 2 * TTL_MS + 10_000)
    expect(lateGrantedAtMs - restartedAtMs).toBeLessThan(15_000)
  } finally {
    lag.stop()
    await Promise.all([holderLocker, pinnedWaiter, otherWaiter].map((l) => l.close()))
  }
}, 120_000)

test('minority partition: the minority member grants nothing, its holder is signalled lost within the TTL, the majority takes over after it, no overlap', async () => {
  await everyMemberServes()
  const leader = await leaderIndex()
  const minority = [0, 1, 2].find((i) => i !== leader) ?? 0
  const majority = [0, 1, 2].filter((i) => i !== minority)
  const minorityHolder = lockerFor(only(minority))
  const minorityClient = lockerFor(only(minority))
  const majorityClient = lockerFor(only(...majority))
  const key = 'minority'
  const freeKey = 'minority-free'
  const lag = timerLateness()
  try {
    const holder = follow(0, await step('holder', minorityHolder.acquire(key, { ttlMs: TTL_MS })))
    const waiting = majorityClient.acquire(key, { ttlMs: TTL_MS, waitMs: 30_000 })
    waiting.catch(() => {}) // awaited below
    // let a renewal go through before the cut
    await new Promise((r) => setTimeout(r, 800))
    const cutAtMs = performance.now()
    cluster.isolate(minority)
    // A client of the minority member asks for a free key: it must not be granted.
    const attempt = minorityClient.acquire(freeKey, { ttlMs: TTL_MS, waitMs: 4_000 }).then(
      (handle) => follow(2, handle),
      (err: unknown) => (err instanceof Error ? err : new Error(String(err))),
    )
    const next = follow(1, await step('majority waiter', waiting))
    const grantedAtMs = performance.now()
    const holderWindow = await holder.ended
    const denied = await attempt
    const nextWindow = await next.release()
    cluster.heal()
    const healedAtMs = performance.now()
    // After the heal the minority member serves again (bounded: 20 s).
    const afterHeal = await acquireBy(minorityClient, freeKey, performance.now() + 20_000)
    const servedAtMs = performance.now()
    console.info(
      `etcd cluster, minority partition: holder signalled lost ${holder.lostAtMs === undefined ? '-' : Math.round(holder.lostAtMs - cutAtMs)} ms after the cut (${holder.lostAtMs === undefined ? '-' : Math.round(holder.lostAtMs - holderWindow.validUntilMs)} ms vs validUntil), majority granted ${Math.round(grantedAtMs - cutAtMs)} ms after the cut, minority client: ${denied instanceof Error ? `refused (${denied.name})` : 'GRANTED'}, served again ${Math.round(servedAtMs - healedAtMs)} ms after the heal; timer lateness up to ${Math.round(lag.maxMs)} ms`,
    )
    expect(denied).toBeInstanceOf(Error)
    const windows = [holderWindow, nextWindow]
    if (!(denied instanceof Error)) windows.push(await denied.release())
    expect(violations(windows.sort((a, b) => a.startMs - b.startMs))).toEqual({
      overlaps: [],
      fenceOrder: [],
    })
    expect(holder.lostAtMs).toBeDefined()
    expect((holder.lostAtMs as number) - cutAtMs).toBeLessThanOrEqual(TTL_MS + 50 + lag.maxMs)
    expect((holder.lostAtMs as number) - holderWindow.validUntilMs).toBeLessThan(50 + lag.maxMs)
    expect(grantedAtMs).toBeGreaterThan(holderWindow.validUntilMs)
    expect(next.handle.fence > holder.handle.fence).toBe(true)
    expect(afterHeal).toBeDefined()
    await afterHeal?.release()
  } finally {
    lag.stop()
    cluster.heal()
    await Promise.all([minorityHolder, minorityClient, majorityClient].map((l) => l.close()))
  }
}, 120_000)
