import { createHash } from 'node:crypto'
import { isLockError, Locker } from '@baton-lock/core'
import { uniqueKey } from '@baton-lock/core/driver'
import { lockKeys, RedisDriver, semaphoreKeys } from '@baton-lock/redis'
import { type ServerHandle, startRedis } from '@baton-lock/test-matrix'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

// Shared locks, semaphores and elections through core's Locker, several drivers (separate
// connections, as separate processes would be) on one real redis-server. The counters are
// exact: every holder is in this process, and each check runs while the lock is held.

let server: ServerHandle
let raw: Redis
const lockers: Locker[] = []

beforeAll(async () => {
  server = await startRedis()
  raw = new Redis(server.url)
})
afterAll(async () => {
  await Promise.allSettled(lockers.map((l) => l.close()))
  raw?.disconnect()
  await server?.stop()
})

/** Every Redis key of `key`'s hash tag (lock and semaphore). */
async function keysOf(key: string): Promise<string[]> {
  const tag = createHash('sha256').update(key, 'utf8').digest('hex')
  return (await raw.keys(`baton:{${tag}}:*`)).sort()
}

async function locker(): Promise<Locker> {
  const l = new Locker(await RedisDriver.connect({ url: server.url, onWarning: () => {} }), {
    ttlMs: 10_000,
  })
  lockers.push(l)
  return l
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe('Locker over RedisDriver: new modes', () => {
  it('declares shared locks and semaphores', async () => {
    const l = await locker()
    expect(l.driver.capabilities).toMatchObject({ sharedLocks: true, semaphores: true })
  })

  it('R1/F1: 3 drivers x 40 random shared/exclusive holds never put a writer beside anyone; fences order writers after everything before', async () => {
    const ls = [await locker(), await locker(), await locker()]
    const key = uniqueKey('rw-mix')
    let readers = 0
    let writers = 0
    let maxReaders = 0
    let maxFence = 0n
    let maxWriterFence = 0n
    const violations: string[] = []
    await Promise.all(
      ls.map(async (l, n) => {
        for (let i = 0; i < 40; i++) {
          const mode = (i * 7 + n * 3) % 5 < 3 ? 'shared' : 'exclusive'
          await l.withLock(
            key,
            async (h) => {
              if (mode === 'exclusive') {
                writers += 1
                if (writers > 1 || readers > 0)
                  violations.push(`writer beside ${readers}/${writers}`)
                if (h.fence <= maxFence) violations.push(`writer fence ${h.fence} <= ${maxFence}`)
                maxWriterFence = h.fence
              } else {
                readers += 1
                maxReaders = Math.max(maxReaders, readers)
                if (writers > 0) violations.push('reader beside a writer')
                if (h.fence <= maxWriterFence)
                  violations.push(`reader fence ${h.fence} <= writer's`)
              }
              if (h.fence > maxFence) maxFence = h.fence
              await pause(2)
              if (mode === 'exclusive') writers -= 1
              else readers -= 1
            },
            { mode, waitMs: 30_000 },
          )
        }
      }),
    )
    expect(violations).toEqual([])
    expect(maxReaders).toBeGreaterThan(1) // readers did overlap
    expect(await ls[0]?.inspect(key)).toEqual({ held: false })
  })

  it('M1: a semaphore of limit 3 across 3 drivers x 15 holds never has more than 3 holders, and uses them', async () => {
    const ls = [await locker(), await locker(), await locker()]
    const key = uniqueKey('sem-mix')
    let holders = 0
    let most = 0
    const fences: bigint[] = []
    await Promise.all(
      ls.map(async (l) => {
        const sem = l.semaphore(key, { limit: 3 })
        for (let i = 0; i < 15; i++) {
          await sem.withLock(
            async (p) => {
              holders += 1
              most = Math.max(most, holders)
              fences.push(p.fence)
              await pause(3)
              holders -= 1
            },
            { waitMs: 30_000 },
          )
        }
      }),
    )
    expect(most).toBeLessThanOrEqual(3)
    expect(most).toBeGreaterThan(1)
    expect(new Set(fences).size).toBe(45)
    expect(await ls[0]?.semaphore(key, { limit: 3 }).inspect()).toEqual({ held: false })
  })

  it('a semaphore acquire with another limit than the holders fails with LockLimitMismatchError', async () => {
    const [a, b] = [await locker(), await locker()]
    const key = uniqueKey('sem-limit')
    const held = await a.semaphore(key, { limit: 2 }).acquire()
    await expect(b.semaphore(key, { limit: 4 }).acquire({ waitMs: 1_000 })).rejects.toMatchObject({
      code: 'LOCK_LIMIT_MISMATCH',
      limit: 4,
      heldLimit: 2,
    })
    expect(await b.semaphore(key, { limit: 2 }).inspect()).toMatchObject({ holders: 1, limit: 2 })
    await held.release()
  })

  it('elections: the leader is the exclusive holder with its value, and a follower takes over on resign', async () => {
    const [a, b] = [await locker(), await locker()]
    const key = uniqueKey('leader')
    const ea = a.election(key, { value: 'host-a:8080' })
    const eb = b.election(key, { value: 'host-b:8080' })
    const la = await ea.campaign()
    expect(await eb.leader()).toMatchObject({ value: 'host-a:8080', fence: la.fence })
    const lb = eb.campaign()
    await pause(50)
    await ea.resign()
    const led = await lb
    expect(led.fence).toBeGreaterThan(la.fence)
    expect(await ea.leader()).toMatchObject({ value: 'host-b:8080', owner: expect.any(String) })
    // an election on a key and acquire(key) are the same lock
    expect(await a.tryAcquire(key)).toBeNull()
    await eb.resign()
    expect(await ea.leader()).toBeNull()
  })

  it('S4/H1 under contention: waiters that time out or abort in every mode leave nothing but the fence hashes', async () => {
    const ls = [await locker(), await locker(), await locker()]
    const key = uniqueKey('give-up')
    let timeouts = 0
    let grants = 0
    let inside = 0
    const violations: string[] = []
    await Promise.all(
      ls.flatMap((l, n) =>
        [0, 1].map(async (j) => {
          const sem = l.semaphore(key, { limit: 2 })
          for (let i = 0; i < 25; i++) {
            const kind = (i + n + j) % 3
            const controller = new AbortController()
            if (i % 4 === 0) setTimeout(() => controller.abort(), 5)
            try {
              if (kind === 2) {
                await sem.withLock(
                  async () => {
                    grants += 1
                    inside += 1
                    if (inside > 2) violations.push(`${inside} permits`)
                    await pause(8)
                    inside -= 1
                  },
                  { waitMs: 10, signal: controller.signal },
                )
              } else {
                const mode = kind === 0 ? 'shared' : 'exclusive'
                await l.withLock(key, () => pause(8).then(() => (grants += 1)), {
                  mode,
                  waitMs: 10,
                  signal: controller.signal,
                })
              }
            } catch (err) {
              if (!isLockError(err, 'LOCK_TIMEOUT') && !isLockError(err, 'LOCK_ABORTED')) throw err
              timeouts += 1
            }
          }
        }),
      ),
    )
    expect(violations).toEqual([])
    expect(grants).toBeGreaterThan(0)
    expect(timeouts).toBeGreaterThan(0)
    // the give-ups' leave scripts are sent on the way out, not awaited by the rejection
    await expect
      .poll(() => keysOf(key), { timeout: 5_000, interval: 20 })
      .toEqual([lockKeys('baton', key).fence, semaphoreKeys('baton', key).fence].sort())
  })
})
