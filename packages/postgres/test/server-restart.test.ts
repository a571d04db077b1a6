import { isLockError, Locker } from '@baton-lock/core'
import { startPostgres } from '@baton-lock/test-matrix'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { PostgresDriver } from '../src/index.js'
import { until } from './driver-helpers.js'

let server: Awaited<ReturnType<typeof startPostgres>>

beforeAll(async () => {
  server = await startPostgres()
})
afterAll(async () => {
  await server?.stop()
})

test('a server restart aborts every holder signal at once, and fences keep increasing after it', async () => {
  const lockers = [0, 1].map(() => new Locker(new PostgresDriver({ url: server.url })))
  try {
    const handles = await Promise.all(
      ['restart:a', 'restart:b', 'restart:c'].map((key, i) =>
        lockers[i % 2]?.acquire(key, { ttlMs: 60_000, waitMs: 5_000 }),
      ),
    )
    const before = handles.map((h) => h?.fence ?? 0n)
    const restartedAt = performance.now()
    await server.restart()
    // the sessions die with the server: no renewal needed to learn it (N2), far within the 60 s TTL
    await until(() => handles.every((h) => h?.signal.aborted === true), 20_000)
    const tookMs = performance.now() - restartedAt
    console.info(
      `postgres: every holder signal aborted ${Math.round(tookMs)} ms after restart() began`,
    )
    for (const h of handles) {
      expect(isLockError(h?.signal.reason, 'LOCK_LOST')).toBe(true)
      expect(h?.isValid()).toBe(false)
      await h?.release()
    }
    const again = await lockers[0]?.acquire('restart:a', { waitMs: 10_000 })
    expect(again).toBeDefined()
    // the fence sequence is WAL-logged: it never goes back across a restart (fencing 'durable')
    for (const fence of before) expect((again?.fence ?? 0n) > fence).toBe(true)
    await again?.release()
  } finally {
    await Promise.all(lockers.map((l) => l.close()))
  }
})
