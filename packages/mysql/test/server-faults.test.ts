import { isLockError, Locker } from '@baton-lock/core'
import { driverRequest } from '@baton-lock/core/driver'
import { startMariadb } from '@baton-lock/test-matrix'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { MysqlDriver } from '../src/index.js'
import { must, until } from './driver-helpers.js'

let server: Awaited<ReturnType<typeof startMariadb>>

beforeAll(async () => {
  server = await startMariadb()
})
afterAll(async () => {
  await server?.resume().catch(() => {})
  await server?.stop()
})

test('a server restart aborts every holder signal at once, and fences keep increasing after it (durable)', async () => {
  const lockers = [0, 1].map(() => new Locker(new MysqlDriver({ url: server.url })))
  try {
    const handles = await Promise.all(
      ['restart:a', 'restart:b', 'restart:c'].map((key, i) =>
        must(lockers[i % 2]).acquire(key, { ttlMs: 60_000, waitMs: 5_000 }),
      ),
    )
    const fenceBefore = must(handles[0]).fence
    const restartedAt = performance.now()
    await server.restart()
    // the sessions die with the server: no renewal needed to learn it (N2), far within the 60 s TTL
    await until(() => handles.every((h) => h.signal.aborted), 20_000)
    console.info(
      `mysql: every holder signal aborted ${Math.round(performance.now() - restartedAt)} ms after restart() began`,
    )
    for (const h of handles) {
      expect(isLockError(h.signal.reason, 'LOCK_LOST')).toBe(true)
      expect(h.isValid()).toBe(false)
      await h.release()
    }
    const again = await must(lockers[0]).acquire('restart:a', { waitMs: 10_000 })
    // the fence row is an InnoDB row: it never goes back across a restart (fencing 'durable')
    expect(again.fence > fenceBefore).toBe(true)
    await again.release()
  } finally {
    await Promise.all(lockers.map((l) => l.close()))
  }
})

test('L3/N4: with the server stopped (SIGSTOP), holders go suspended then lost by validUntil; waitMs and abort are honoured within 100 ms', async () => {
  const ttlMs = 3_000
  const locker = new Locker(new MysqlDriver({ url: server.url }), { ttlMs })
  const other = new MysqlDriver({ url: server.url })
  try {
    const handle = await locker.acquire('stall:held', { waitMs: 5_000 })
    const blocker = must(await other.acquire(driverRequest('stall:busy', { ttlMs: 60_000 })))
    await server.pause()
    try {
      const pausedAt = performance.now()
      const deadlineMs = pausedAt + handle.validForMs()
      // a timed wait on a stalled server gives up on time
      const timedStart = performance.now()
      const timed = await locker.acquire('stall:busy', { waitMs: 500 }).catch((e: unknown) => e)
      const timedMs = performance.now() - timedStart
      expect(isLockError(timed, 'LOCK_TIMEOUT')).toBe(true)
      expect(timedMs).toBeLessThan(600)
      // an aborted wait returns at once
      const abort = new AbortController()
      const waiting = locker
        .acquire('stall:other', { waitMs: 60_000, signal: abort.signal })
        .catch((e: unknown) => e)
      await new Promise((r) => setTimeout(r, 100))
      const abortedAt = performance.now()
      abort.abort()
      expect(isLockError(await waiting, 'LOCK_ABORTED')).toBe(true)
      const abortMs = performance.now() - abortedAt
      // S4: a try on a FREE key, sent during the stall and abandoned at waitMs, still runs
      // when the server resumes; its grant must not stay held by nobody (checked below)
      const abandoned = await locker.acquire('stall:free', { waitMs: 300 }).catch((e: unknown) => e)
      expect(isLockError(abandoned, 'LOCK_TIMEOUT')).toBe(true)
      await until(() => handle.state === 'suspended', ttlMs)
      await until(() => handle.state === 'lost', ttlMs + 1_000)
      const lostAt = performance.now()
      console.info(
        `mysql: stalled server: timed wait gave up after ${Math.round(timedMs)} ms (waitMs 500), ` +
          `abort took ${Math.round(abortMs)} ms, holder lost ${Math.round(lostAt - deadlineMs)} ms after validUntil`,
      )
      expect(abortMs).toBeLessThan(100)
      expect(handle.isValid()).toBe(false)
      expect(lostAt).toBeLessThan(deadlineMs + 300)
    } finally {
      await server.resume()
    }
    await handle.release()
    await other.release(blocker)
    // the abandoned statement's late grant was released by the driver: the key is free
    await until(async () => (await other.inspect('stall:free')) === null, 10_000)
    const free = must(await other.acquire(driverRequest('stall:free')))
    await other.release(free)
    // after the stall the key is free again (the lost holder's lock was released or its session dropped)
    const again = await locker.acquire('stall:held', { waitMs: 10_000 })
    expect(again.fence > handle.fence).toBe(true)
    await again.release()
  } finally {
    await locker.close()
    await other.close()
  }
})
