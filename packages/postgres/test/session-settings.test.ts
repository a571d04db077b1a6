import { driverRequest } from '@baton-lock/core/driver'
import { startPostgres } from '@baton-lock/test-matrix'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { PostgresDriver } from '../src/index.js'
import { must } from './driver-helpers.js'

let server: Awaited<ReturnType<typeof startPostgres>>

beforeAll(async () => {
  // a server default that would cancel any statement running longer than 200 ms
  server = await startPostgres({ settings: { statement_timeout: '200ms' } })
})
afterAll(async () => {
  await server?.stop()
})

test("a server or role statement_timeout does not cut a wait short: the driver's sessions set it to 0", async () => {
  const holder = new PostgresDriver({ url: server.url })
  const waiter = new PostgresDriver({ url: server.url })
  try {
    const held = must(await holder.acquire(driverRequest('settings:wait')))
    const waiting = waiter.acquire(driverRequest('settings:wait', { waitMs: 10_000 }))
    setTimeout(() => void holder.release(held), 800)
    const lease = must(await waiting)
    expect(lease.fence > held.fence).toBe(true)
    await waiter.release(lease)
  } finally {
    await Promise.all([holder.close(), waiter.close()])
  }
})
