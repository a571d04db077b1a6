import { driverRequest } from '@baton-lock/core/driver'
import { startPostgres } from '@baton-lock/test-matrix'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { PostgresDriver } from '../src/index.js'
import { holdersInSql, rawClient, until } from './driver-helpers.js'

let server: Awaited<ReturnType<typeof startPostgres>>

beforeAll(async () => {
  server = await startPostgres()
})
afterAll(async () => {
  await server?.stop()
})

test('S4: many very short waits and aborts racing releases leave no lock behind', async () => {
  const key = 'race:short-waits'
  const holder = new PostgresDriver({ url: server.url })
  const waiter = new PostgresDriver({ url: server.url })
  const client = await rawClient(server.url)
  let granted = 0
  const fences: bigint[] = []
  try {
    const deadline = performance.now() + 30_000
    for (let i = 0; i < 300 && performance.now() < deadline; i++) {
      const held = await holder.acquire(driverRequest(key, { waitMs: 5_000 }))
      expect(held).not.toBeNull()
      const abort = new AbortController()
      const waitMs = 1 + (i % 7)
      // release, timeout and (every third round) abort all land within a few ms of each other
      const waiting = waiter.acquire(driverRequest(key, { waitMs, signal: abort.signal }))
      if (i % 3 === 0) setTimeout(() => abort.abort(), i % 5)
      setTimeout(() => held && void holder.release(held), i % 4)
      const lease = await waiting
      if (lease !== null) {
        granted++
        fences.push(lease.fence)
        await waiter.release(lease)
      }
    }
    // background sweeps of late grants finish, then nothing is held or waiting on the key
    await until(async () => (await holdersInSql(client, key)).length === 0, 10_000)
    const { rows } = await client.query("SELECT 1 FROM pg_locks WHERE locktype = 'advisory'")
    expect(rows).toEqual([])
    const third = new PostgresDriver({ url: server.url })
    const lease = await third.acquire(driverRequest(key))
    expect(lease).not.toBeNull()
    if (lease) await third.release(lease)
    await third.close()
    expect(fences).toEqual([...fences].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)))
    expect(new Set(fences).size).toBe(fences.length)
    console.info(`postgres: ${granted} of the short waits won the race; no leaked lock`)
  } finally {
    await Promise.all([holder.close(), waiter.close(), client.end()])
  }
})

const modes = [
  { name: 'a shared wait behind an exclusive holder', holder: {}, waiter: { mode: 'shared' } },
  {
    name: 'a semaphore wait behind the only permit',
    holder: { mode: 'semaphore', limit: 1 },
    waiter: { mode: 'semaphore', limit: 1 },
  },
] as const

test.each(modes)(
  'S4 for $name: short waits and aborts racing releases leave nothing behind',
  async ({ holder: holderMode, waiter: waiterMode }) => {
    const key = `race:${waiterMode.mode}`
    const holder = new PostgresDriver({ url: server.url })
    const waiter = new PostgresDriver({ url: server.url })
    const client = await rawClient(server.url)
    const fences: bigint[] = []
    try {
      const deadline = performance.now() + 20_000
      for (let i = 0; i < 150 && performance.now() < deadline; i++) {
        const held = await holder.acquire(driverRequest(key, { waitMs: 5_000, ...holderMode }))
        expect(held).not.toBeNull()
        const abort = new AbortController()
        const waiting = waiter.acquire(
          driverRequest(key, { waitMs: 1 + (i % 7), signal: abort.signal, ...waiterMode }),
        )
        if (i % 3 === 0) setTimeout(() => abort.abort(), i % 5)
        setTimeout(() => held && void holder.release(held), i % 4)
        const lease = await waiting
        if (lease !== null) {
          fences.push(lease.fence)
          await waiter.release(lease)
        }
      }
      // background sweeps of late grants finish, then no advisory lock of either kind is left
      await until(async () => {
        const { rows } = await client.query("SELECT 1 FROM pg_locks WHERE locktype = 'advisory'")
        return rows.length === 0
      }, 10_000)
      const third = new PostgresDriver({ url: server.url })
      const lease = await third.acquire(driverRequest(key, holderMode))
      expect(lease).not.toBeNull()
      if (lease) await third.release(lease)
      await third.close()
      expect(new Set(fences).size).toBe(fences.length)
    } finally {
      await Promise.all([holder.close(), waiter.close(), client.end()])
    }
  },
)
