import { type ChildProcess, spawn } from 'node:child_process'
import { join } from 'node:path'
import { Locker } from '@baton-lock/core'
import { driverRequest, uniqueKey } from '@baton-lock/core/driver'
import { lockKeys } from '@baton-lock/redis'
import { type ServerHandle, startRedis } from '@baton-lock/test-matrix'
import { Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { LockCommands } from '../src/lock-commands.js'
import { defineScripts } from '../src/scripts.js'
import { DriverPool, scriptCalls } from './helpers.js'

// The fair queue across processes: waiters queue in Redis, a release hands the lock to the
// head only, a waiter that dies drops out after its own TTL, one that gives up leaves at once.
// Children run the built packages (`pnpm -r build` first), as an application would.

const fixture = join(import.meta.dirname, 'fixtures/fair-waiter.mjs')
let server: ServerHandle
let raw: Redis
const pool = new DriverPool()
const children: ChildProcess[] = []

beforeAll(async () => {
  server = await startRedis()
  raw = new Redis(server.url)
})
afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL')
  await pool.closeAll()
})
afterAll(async () => {
  raw?.disconnect()
  await server?.stop()
})

/** A waiter process and the lines it printed. */
function waiter(key: string, ttlMs: number, holdMs: number) {
  const child = spawn(process.execPath, [fixture, server.url, key, String(ttlMs), String(holdMs)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  children.push(child)
  const lines: string[] = []
  let buffered = ''
  child.stdout?.on('data', (chunk: Buffer) => {
    buffered += chunk.toString()
    const parts = buffered.split('\n')
    buffered = parts.pop() ?? ''
    lines.push(...parts)
  })
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
  return { child, lines, exited }
}

/** Waits until the lock's queue in Redis holds `n` waiters. */
async function queued(key: string, n: number): Promise<void> {
  const { queue } = lockKeys('baton', key)
  await expect.poll(() => raw.llen(queue), { timeout: 20_000, interval: 10 }).toBe(n)
}

describe('fair queue in Redis', () => {
  it('grants in arrival order across processes, one script per grant', async () => {
    const holder = new Locker(await pool.connect(server.url), { closeDriver: false })
    const key = uniqueKey('fifo-procs')
    const held = await holder.acquire(key, { waitMs: 1_000 })
    const procs = []
    for (let i = 0; i < 4; i++) {
      procs.push(waiter(key, 30_000, 30))
      await queued(key, i + 1) // arrival order: each joins the queue before the next starts
    }
    const before = await scriptCalls(raw)
    await held.release()
    expect(await Promise.all(procs.map((p) => p.exited))).toEqual([0, 0, 0, 0])
    // Fences are issued in grant order: waiter i (arrived i-th) got fence 2 + i.
    const fences = procs.map((p) => p.lines.find((l) => l.startsWith('held '))?.slice(5))
    expect(fences).toEqual(['2', '3', '4', '5'])
    // 5 releases (each hands the lock to the next head) and no acquire script at all: the
    // waiters were granted on the server. A herd would retry on every release.
    expect((await scriptCalls(raw)) - before).toBe(5)
    expect(await raw.exists(lockKeys('baton', key).queue, lockKeys('baton', key).waiters)).toBe(0)
    await holder.close()
  })

  it('a waiter killed (SIGKILL) at the head blocks the queue no longer than its own TTL', async () => {
    const holder = new Locker(await pool.connect(server.url), { closeDriver: false })
    const next = new Locker(await pool.connect(server.url), { closeDriver: false })
    const key = uniqueKey('dead-head')
    const held = await holder.acquire(key, { waitMs: 1_000, ttlMs: 30_000 })
    const deadTtlMs = 1_500
    const dead = waiter(key, deadTtlMs, 0)
    await queued(key, 1)
    dead.child.kill('SIGKILL')
    await dead.exited
    const killedAt = performance.now()
    const granted = next.acquire(key, { waitMs: 20_000, ttlMs: 30_000 })
    await queued(key, 2)
    await held.release() // hands the lock to the dead head (its entry has not expired yet)
    const lock = await granted
    const waitedMs = performance.now() - killedAt
    expect(lock.fence).toBe(3n) // 2 went to the dead waiter
    // Its entry (and so the lock handed to it) lapses deadTtlMs after its last script; the
    // next waiter moves its backstop to that expiry when it sees the hand-off message.
    expect(waitedMs).toBeLessThan(deadTtlMs + 2_000)
    await lock.release()
    await Promise.all([holder.close(), next.close()])
  })

  it('a dead waiter whose entry expired is skipped at once by the release', async () => {
    const [d1, d2] = [await pool.connect(server.url), await pool.connect(server.url)]
    const key = uniqueKey('dead-expired')
    const held = await d1.acquire(driverRequest(key, { ttlMs: 30_000 }))
    const dead = waiter(key, 300, 0)
    await queued(key, 1)
    dead.child.kill('SIGKILL')
    await dead.exited
    const next = d2.acquire(driverRequest(key, { waitMs: 20_000, ttlMs: 30_000 }))
    await queued(key, 2)
    await new Promise((resolve) => setTimeout(resolve, 400)) // the dead entry expires
    const releasedAt = performance.now()
    await d1.release(held as NonNullable<typeof held>)
    const lease = await next
    expect(lease?.fence).toBe(2n) // the dead waiter was dropped, not granted
    expect(performance.now() - releasedAt).toBeLessThan(1_000)
  })

  it('a waiter that aborts or times out leaves the queue and is never granted', async () => {
    const [d1, d2, d3] = [
      await pool.connect(server.url),
      await pool.connect(server.url),
      await pool.connect(server.url),
    ]
    const key = uniqueKey('leave')
    const { queue, waiters, lock } = lockKeys('baton', key)
    const held = await d1.acquire(driverRequest(key, { ttlMs: 30_000 }))
    const ac = new AbortController()
    const aborted = d2.acquire(driverRequest(key, { waitMs: 60_000, signal: ac.signal }))
    const timedOut = d3.acquire(driverRequest(key, { waitMs: 500 }))
    await queued(key, 2)
    ac.abort(new Error('stop'))
    expect(await aborted).toBeNull()
    expect(await timedOut).toBeNull()
    await expect.poll(() => raw.llen(queue)).toBe(0)
    expect(await raw.zcard(waiters)).toBe(0)
    // The release hands the lock to nobody: it is free, and a try gets it at once.
    await d1.release(held as NonNullable<typeof held>)
    expect(await raw.exists(lock)).toBe(0)
    const late = await d3.acquire(driverRequest(key))
    expect(late?.fence).toBe(2n)
  })

  it('a hand-off to a waiter that gave up at that moment is released and passed on', async () => {
    const [d1, d2, d3] = [
      await pool.connect(server.url),
      await pool.connect(server.url),
      await pool.connect(server.url),
    ]
    const key = uniqueKey('leave-race')
    const held = await d1.acquire(driverRequest(key, { ttlMs: 30_000 }))
    const ac = new AbortController()
    const first = d2.acquire(driverRequest(key, { waitMs: 60_000, signal: ac.signal }))
    await queued(key, 1)
    const second = d3.acquire(driverRequest(key, { waitMs: 20_000 }))
    await queued(key, 2)
    // The release hands the lock to `first` on the server; it aborts before or after the
    // message arrives. Either it holds the lock (fence 2), or its leave passes it on.
    const release = d1.release(held as NonNullable<typeof held>)
    ac.abort(new Error('stop'))
    await release
    const got = await first
    if (got !== null) await d2.release(got)
    const lease = await second
    expect(lease?.fence).toBe(3n) // 2 went to `first`, whether it kept the lock or passed it on
  })

  it('lets a tryAcquire not jump the queue', async () => {
    const [d1, d2, d3] = [
      await pool.connect(server.url),
      await pool.connect(server.url),
      await pool.connect(server.url),
    ]
    const key = uniqueKey('no-barging')
    const held = await d1.acquire(driverRequest(key, { ttlMs: 400 }))
    const waiting = d2.acquire(driverRequest(key, { waitMs: 20_000 }))
    await queued(key, 1)
    await new Promise((resolve) => setTimeout(resolve, 450)) // the holder's lease runs out
    // The lock is free but someone queues: the try hands it to the head and gets nothing.
    expect(await d3.acquire(driverRequest(key))).toBeNull()
    expect((await waiting)?.fence).toBe(2n)
    expect(held?.fence).toBe(1n)
  })

  it("a tryAcquire that finds a free lock and a live queue hands it to the head at once (not the head's backstop)", async () => {
    const [d1, d2, d3] = [
      await pool.connect(server.url),
      await pool.connect(server.url),
      await pool.connect(server.url),
    ]
    const key = uniqueKey('try-hands-off')
    const held = await d1.acquire(driverRequest(key, { ttlMs: 30_000 }))
    const waitingSince = performance.now()
    const waiting = d2.acquire(driverRequest(key, { waitMs: 20_000, ttlMs: 30_000 }))
    await queued(key, 1)
    // The lock key vanishes without a release script (as if its lease ran out): nothing
    // publishes, and the waiter sleeps until its own refresh (a third of 30 s).
    await raw.del(lockKeys('baton', key).lock)
    const triedAt = performance.now()
    expect(await d3.acquire(driverRequest(key))).toBeNull()
    const lease = await waiting
    expect(lease?.fence).toBe(2n)
    expect(held?.fence).toBe(1n)
    expect(performance.now() - triedAt).toBeLessThan(2_000)
    expect(performance.now() - waitingSince).toBeLessThan(10_000)
    await d2.release(lease as NonNullable<typeof lease>)
  })
  it("publishes each grant on the grantee's own channel only: no other waiter's process hears it", async () => {
    const [d1, d2, d3, d4] = [
      await pool.connect(server.url),
      await pool.connect(server.url),
      await pool.connect(server.url),
      await pool.connect(server.url),
    ]
    const key = uniqueKey('own-channel')
    const { channel, queue } = lockKeys('baton', key)
    const heard: Array<{ on: string; message: string }> = []
    const listener = new Redis(server.url)
    listener.on('pmessage', (_pattern: string, on: string, message: string) => {
      heard.push({ on, message })
    })
    await listener.psubscribe(`${channel}*`)
    const held = await d1.acquire(driverRequest(key, { ttlMs: 30_000 }))
    const waiting = []
    for (const [i, driver] of [d2, d3, d4].entries()) {
      waiting.push(driver.acquire(driverRequest(key, { waitMs: 20_000, ttlMs: 30_000 })))
      await queued(key, i + 1)
    }
    // Each waiter queues under its driver's tag (8 base64url characters), a tag per driver.
    const entries = await raw.lrange(queue, 0, -1)
    const tags = entries.map((e) => /^[^:]+:x:([A-Za-z0-9_-]{8})$/.exec(e)?.[1])
    expect(new Set(tags).size).toBe(3)
    expect(tags).not.toContain(undefined)
    let lease: Awaited<ReturnType<typeof d1.acquire>> | undefined = held
    for (const [i, driver] of [d1, d2, d3].entries()) {
      await driver.release(lease as NonNullable<typeof lease>)
      lease = await waiting[i]
      expect(lease?.fence).toBe(BigInt(i + 2))
    }
    await d4.release(lease as NonNullable<typeof lease>)
    await expect.poll(() => heard.length, { timeout: 5_000 }).toBe(3)
    // Every grant went to `<channel>:<grantee's tag>`, none to the lock's channel, which
    // every waiter of the lock (in any process) listens to.
    expect(heard.map((h) => h.on)).toEqual(tags.map((t) => `${channel}:${t}`))
    expect(heard.map((h) => h.message.split(':')[1])).toEqual(['2', '3', '4'])
    listener.disconnect()
  })

  it('interoperates with versions before tags: an untagged waiter hears its grant on the lock channel, a tagged one hears a grant published there', async () => {
    const [d1, d2] = [await pool.connect(server.url), await pool.connect(server.url)]
    const key = uniqueKey('untagged')
    const keys = lockKeys('baton', key)
    const heard: Array<{ on: string; message: string }> = []
    const listener = new Redis(server.url)
    listener.on('pmessage', (_pattern: string, on: string, message: string) => {
      heard.push({ on, message })
    })
    await listener.psubscribe(`${keys.channel}*`)
    // An earlier version's waiter: its ACQUIRE names no queue entry, so it queues as its owner id.
    const earlierClient = new Redis(server.url)
    const earlier = new LockCommands(defineScripts(earlierClient))
    const held = await d1.acquire(driverRequest(key, { ttlMs: 30_000 }))
    expect((await earlier.acquire(keys, 'earlier-owner', 30_000, key, true))[0]).toBe(0)
    expect(await raw.lrange(keys.queue, 0, -1)).toEqual(['earlier-owner'])
    await d1.release(held as NonNullable<typeof held>)
    await expect.poll(() => heard.length, { timeout: 5_000 }).toBe(1)
    expect(heard[0]).toEqual({
      on: keys.channel,
      message: expect.stringMatching(/^earlier-owner:2:\d+$/),
    })
    expect(await raw.get(keys.lock)).toBe('earlier-owner')
    // An earlier version's release hands the lock to a tagged waiter and publishes on the
    // lock's channel: the waiter hears it there (its backstop is a third of 30 s away).
    const waitingSince = performance.now()
    const waiting = d2.acquire(driverRequest(key, { waitMs: 20_000, ttlMs: 30_000 }))
    await queued(key, 1)
    const [entry] = await raw.lrange(keys.queue, 0, -1)
    const owner = entry?.split(':')[0] as string
    await raw.eval(
      `redis.call('DEL', KEYS[1]) redis.call('LPOP', KEYS[3]) redis.call('ZREM', KEYS[4], ARGV[2])
       local fence = redis.call('HINCRBY', KEYS[2], 'n', 1)
       redis.call('SET', KEYS[1], ARGV[1], 'PX', 30000)
       redis.call('PUBLISH', ARGV[3], ARGV[1] .. ':' .. fence .. ':30000')`,
      4,
      keys.lock,
      keys.fence,
      keys.queue,
      keys.waiters,
      owner,
      entry as string,
      keys.channel,
    )
    const lease = await waiting
    expect(lease?.fence).toBe(3n)
    expect(performance.now() - waitingSince).toBeLessThan(5_000)
    await d2.release(lease as NonNullable<typeof lease>)
    listener.disconnect()
    earlierClient.disconnect()
  })
})
