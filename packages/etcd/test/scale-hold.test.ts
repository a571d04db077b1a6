import { Locker, type LockHandle } from '@baton-lock/core'
import { startEtcd } from '@baton-lock/test-matrix'
import { Etcd3 } from 'etcd3'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { EtcdDriver } from '../src/index.js'
import { endpointsOf } from './helpers.js'

// Issue #17: one Locker holding thousands of locks lost nearly all of them, because a
// batched renewal read every key in one txn and etcd refuses a txn of more than
// --max-txn-ops (128) operations: every renewal failed until the locks expired.
const LOCKS = Number(process.env.BATON_SCALE_LOCKS ?? 3_000)
const TTL_MS = Number(process.env.BATON_SCALE_TTL_MS ?? 4_000)
const CONCURRENCY = 100

let server: Awaited<ReturnType<typeof startEtcd>>
let admin: Etcd3

beforeAll(async () => {
  server = await startEtcd()
  admin = new Etcd3({ hosts: endpointsOf(server.url) })
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

test(`one Locker holds ${LOCKS} locks with TTL ${TTL_MS} ms for 3.5 TTLs: none lost, every one confirmed and its key still on the live lease`, async () => {
  const driver = new EtcdDriver({ url: server.url })
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
    const renewedAtHold = new Map(renewed)
    await new Promise((r) => setTimeout(r, TTL_MS * 3.5))
    expect(lost, 'locks lost during the hold').toEqual([])
    const states = new Map<string, number>()
    for (const h of handles) states.set(h.state, (states.get(h.state) ?? 0) + 1)
    // valid: held, or suspended while a renewal is in flight on a busy machine
    expect((states.get('held') ?? 0) + (states.get('suspended') ?? 0)).toBe(LOCKS)
    // Confirmed again and again: at least 3 renewals each in 3.5 TTLs (one per third).
    const short = handles.filter(
      (h) => (renewed.get(h.key) ?? 0) - (renewedAtHold.get(h.key) ?? 0) < 3,
    )
    expect(short.map((h) => h.key).slice(0, 5), 'renewed fewer than 3 times').toEqual([])
    for (const h of handles) expect(h.validForMs()).toBeGreaterThan(0)

    // On the server: one key per lock, all on the driver's one lease, which is alive, and
    // each key's create revision is its handle's fence.
    expect(driver.stats.leases).toBe(1)
    const kvs = await admin.getAll().prefix('scale-hold:').exec()
    expect(kvs.kvs.length).toBe(LOCKS)
    const leases = new Set(kvs.kvs.map((kv) => kv.lease))
    expect(leases.size).toBe(1)
    const [leaseId] = [...leases]
    const ttl = await admin.leaseClient.leaseTimeToLive({ ID: leaseId as string })
    expect(Number(ttl.TTL)).toBeGreaterThan(0)
    const fenceOf = new Map(
      kvs.kvs.map((kv) => [kv.key.toString().split('/')[0], BigInt(kv.create_revision)]),
    )
    const wrong = handles.filter((h, i) => fenceOf.get(`scale-hold:k${i}`) !== h.fence)
    expect(wrong.length).toBe(0)
    await inLanes(LOCKS, (i) => (handles[i] as LockHandle).release())
    expect(lost).toEqual([])
    expect((await admin.getAll().prefix('scale-hold:').keys()).length).toBe(0)
  } finally {
    await locker.close()
  }
}, 120_000)
