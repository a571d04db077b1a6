import { startEtcd } from '@baton-lock/test-matrix'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { lockerFor } from './helpers.js'

let server: Awaited<ReturnType<typeof startEtcd>>

beforeAll(async () => {
  server = await startEtcd()
}, 120_000)
afterAll(async () => {
  await server?.stop()
})

test('a restart of the single member: the holder keeps its lock (key and lease persist), nobody else gets it meanwhile, fences keep increasing', async () => {
  const holder = lockerFor(server.url)
  const contender = lockerFor(server.url)
  try {
    const key = 'restart-holder'
    const held = await holder.acquire(key, { ttlMs: 3_000 })
    let lostAtMs = Number.POSITIVE_INFINITY
    held.signal.addEventListener('abort', () => {
      lostAtMs = performance.now()
    })
    const restartedAt = performance.now()
    await server.restart()
    console.info(
      `etcd: single member restarted in ${Math.round(performance.now() - restartedAt)} ms`,
    )
    // While the holder is valid nobody else gets the key; it renews through the restart.
    const until = performance.now() + 4_000
    while (performance.now() < until) {
      const intruder = await contender.tryAcquire(key).catch(() => null)
      if (intruder !== null) {
        expect(held.isValid()).toBe(false)
        expect(intruder.fence > held.fence).toBe(true)
        await intruder.release()
        break
      }
      await new Promise((r) => setTimeout(r, 200))
    }
    const kept = held.isValid()
    console.info(
      `etcd: after the restart the holder ${kept ? 'still holds its lock' : `lost it (signal at +${Math.round(lostAtMs - restartedAt)} ms)`}`,
    )
    expect(kept).toBe(true)
    await held.release()
    const next = await contender.acquire(key, { ttlMs: 3_000, waitMs: 5_000 })
    expect(next.fence > held.fence).toBe(true)
    await next.release()
  } finally {
    await Promise.all([holder.close(), contender.close()])
  }
}, 90_000)
