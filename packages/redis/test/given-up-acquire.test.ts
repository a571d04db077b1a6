import { isLockError, Locker } from '@baton-lock/core'
import { uniqueKey } from '@baton-lock/core/driver'
import { type ServerHandle, startRedis } from '@baton-lock/test-matrix'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { DriverPool, scriptCalls } from './helpers.js'

// Issue 13 item 1: an acquire its caller gave up on (timeout, abort) while the server was
// stalled longer than the command timeout must not leave the key held by nobody for a TTL.

const TTL_MS = 10_000
const STALL_MS = 3_000

let server: ServerHandle
const pool = new DriverPool()
beforeAll(async () => {
  server = await startRedis()
})
afterEach(() => pool.closeAll())
afterAll(async () => {
  await server?.resume().catch(() => undefined)
  await server?.stop()
})

/**
 * Pauses the server, runs `giveUp` (an acquire that must fail), resumes after STALL_MS and
 * returns ms from resume until another driver is granted the key, and the fences seen.
 */
async function freedAfterResume(
  giveUp: (locker: Locker, key: string) => Promise<unknown>,
  stallMs = STALL_MS,
): Promise<{ freeMs: number; code: unknown; waiterFence: bigint }> {
  const key = uniqueKey('given-up')
  const driver = await pool.connect(server.url) // default 2 s command timeout < STALL_MS
  const other = await pool.connect(server.url)
  const locker = new Locker(driver, { ttlMs: TTL_MS, closeDriver: false })
  const waiter = new Locker(other, { ttlMs: TTL_MS, closeDriver: false })
  // Warm both connections (scripts loaded, subscriber connected) before the stall.
  await (await locker.acquire(key)).release()
  const scripts = await scriptCalls(other.client)
  await server.pause()
  let code: unknown
  try {
    const failed = giveUp(locker, key).then(
      () => 'granted',
      (err: unknown) => (isLockError(err) ? err.code : err),
    )
    code = await failed
    await new Promise((r) => setTimeout(r, stallMs - 500)) // the stall itself (a fault, not a wait)
  } finally {
    await server.resume()
  }
  const resumedAt = performance.now()
  // The queued acquire script did run on resume (the defect needs it): one more script call.
  await expect.poll(() => scriptCalls(other.client), { timeout: 5_000 }).toBeGreaterThan(scripts)
  const got = await waiter.acquire(key, { waitMs: 2 * TTL_MS })
  const freeMs = performance.now() - resumedAt
  const waiterFence = got.fence
  await got.release()
  await Promise.all([locker.close(), waiter.close()])
  return { freeMs, code, waiterFence }
}

describe('an acquire given up while the server is stalled (SIGSTOP) past the command timeout', () => {
  it('waitMs 500 -> LOCK_TIMEOUT, and the late grant is released as soon as the server answers', async () => {
    const { freeMs, code, waiterFence } = await freedAfterResume((locker, key) =>
      locker.acquire(key, { waitMs: 500 }),
    )
    expect(code).toBe('LOCK_TIMEOUT')
    expect(waiterFence).toBe(3n) // warm-up 1, the late grant 2: the stalled script did run
    console.log(`given-up acquire (timeout): key free ${freeMs.toFixed(0)} ms after resume`)
    expect(freeMs).toBeLessThan(TTL_MS / 3)
  })

  it('abort at 200 ms -> LOCK_ABORTED, and the late grant is released as soon as the server answers', async () => {
    const { freeMs, code, waiterFence } = await freedAfterResume((locker, key) =>
      locker.acquire(key, { waitMs: 5_000, signal: AbortSignal.timeout(200) }),
    )
    expect(code).toBe('LOCK_ABORTED')
    expect(waiterFence).toBe(3n)
    console.log(`given-up acquire (abort): key free ${freeMs.toFixed(0)} ms after resume`)
    expect(freeMs).toBeLessThan(TTL_MS / 3)
  })

  it('a stall of 3 command timeouts: the clean-up, queued behind the acquire, still runs on resume', async () => {
    const { freeMs, code, waiterFence } = await freedAfterResume(
      (locker, key) => locker.acquire(key, { waitMs: 500 }),
      6_000,
    )
    expect(code).toBe('LOCK_TIMEOUT')
    expect(waiterFence).toBe(3n)
    console.log(`given-up acquire (6 s stall): key free ${freeMs.toFixed(0)} ms after resume`)
    expect(freeMs).toBeLessThan(TTL_MS / 3)
  })

  it('close() while the acquire is pending -> LOCK_CLOSED, and the late grant is released', async () => {
    const { freeMs, code, waiterFence } = await freedAfterResume(async (locker, key) => {
      const pending = locker.acquire(key, { waitMs: 5_000 })
      pending.catch(() => undefined)
      await new Promise((r) => setTimeout(r, 200)) // the acquire is in flight on the stalled server
      void locker.close().catch(() => undefined) // settles after resume
      return pending
    })
    expect(code).toBe('LOCK_CLOSED')
    expect(waiterFence).toBe(3n)
    console.log(`given-up acquire (close): key free ${freeMs.toFixed(0)} ms after resume`)
    expect(freeMs).toBeLessThan(TTL_MS / 3)
  })
})
