import { Locker } from '@baton-lock/core'
import { driverRequest } from '@baton-lock/core/driver'
import { startPostgres, startProxy } from '@baton-lock/test-matrix'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { PostgresDriver } from '../src/index.js'
import { must, until } from './driver-helpers.js'

let server: Awaited<ReturnType<typeof startPostgres>>
let proxy: Awaited<ReturnType<typeof startProxy>>

beforeAll(async () => {
  server = await startPostgres()
  proxy = await startProxy({ host: server.host, port: server.port })
})
afterAll(async () => {
  await proxy?.close()
  await server?.stop()
})

test('L1/S1: a holder cut off by a silent partition loses the key within ttlMs, and its handle is invalid before anyone else gets it', async () => {
  const ttlMs = 2_000
  const holder = new Locker(new PostgresDriver({ url: proxy.urlFor(server.url) }), { ttlMs })
  const contender = new PostgresDriver({ url: server.url })
  try {
    const handle = await holder.acquire('partition:key', { waitMs: 5_000 })
    let abortedAtMs = 0
    handle.signal.addEventListener('abort', () => {
      abortedAtMs = performance.now()
    })
    // renewals keep it across more than one TTL
    const keepUntil = performance.now() + 1.5 * ttlMs
    while (performance.now() < keepUntil) {
      expect(await contender.acquire(driverRequest('partition:key'))).toBeNull()
      await new Promise((r) => setTimeout(r, 200))
    }
    const partitionedAt = performance.now()
    proxy.hold('both') // TCP stays up (the proxy acks), nothing gets through
    const lease = must(await contender.acquire(driverRequest('partition:key', { waitMs: 20_000 })))
    const grantedAt = performance.now()
    console.info(
      `postgres: partitioned holder's signal aborted after ${Math.round(abortedAtMs - partitionedAt)} ms, ` +
        `key granted elsewhere after ${Math.round(grantedAt - partitionedAt)} ms (ttlMs ${ttlMs})`,
    )
    expect(abortedAtMs).toBeGreaterThan(0)
    expect(abortedAtMs).toBeLessThanOrEqual(grantedAt)
    expect(handle.isValid()).toBe(false)
    expect(grantedAt - partitionedAt).toBeLessThan(ttlMs + 3_000)
    expect(lease.fence > handle.fence).toBe(true)
    await contender.release(lease)
    proxy.heal()
    await handle.release()
    await until(() => handle.state === 'lost' || handle.state === 'released')
  } finally {
    proxy.heal()
    await holder.close()
    await contender.close()
  }
})

test('L3/H1: with the server unreachable, an aborted wait returns at once and close() still finishes', async () => {
  const through = new PostgresDriver({ url: proxy.urlFor(server.url) })
  const direct = new PostgresDriver({ url: server.url })
  try {
    const held = must(await direct.acquire(driverRequest('unreachable:key')))
    const abort = new AbortController()
    const waiting = through.acquire(
      driverRequest('unreachable:key', { waitMs: 60_000, signal: abort.signal }),
    )
    await until(async () => {
      const info = await direct.inspect('unreachable:key')
      return info !== null && through.sessionCount >= 1
    })
    await new Promise((r) => setTimeout(r, 200)) // let the wait reach the server
    proxy.hold('both')
    const abortedAt = performance.now()
    abort.abort()
    expect(await waiting).toBeNull()
    expect(performance.now() - abortedAt).toBeLessThan(100)
    const closeStart = performance.now()
    await through.close()
    const closeMs = performance.now() - closeStart
    console.info(`postgres: close() with the server unreachable took ${Math.round(closeMs)} ms`)
    expect(closeMs).toBeLessThan(15_000)
    proxy.heal()
    await direct.release(held)
  } finally {
    proxy.heal()
    await Promise.all([through.close(), direct.close()])
  }
})
