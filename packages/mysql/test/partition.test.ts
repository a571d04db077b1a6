import { Locker } from '@baton-lock/core'
import { driverRequest } from '@baton-lock/core/driver'
import { startMariadb, startProxy } from '@baton-lock/test-matrix'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { MysqlDriver } from '../src/index.js'
import { must, until } from './driver-helpers.js'

let server: Awaited<ReturnType<typeof startMariadb>>
let proxy: Awaited<ReturnType<typeof startProxy>>

beforeAll(async () => {
  server = await startMariadb()
  proxy = await startProxy({ host: server.host, port: server.port })
})
afterAll(async () => {
  await proxy?.close()
  await server?.stop()
})

test('L1/S1: a holder cut off by a silent partition (hold) loses the key within ttlMs, and its handle is invalid before anyone else gets it', async () => {
  const ttlMs = 2_000
  const holder = new Locker(new MysqlDriver({ url: proxy.urlFor(server.url) }), { ttlMs })
  const contender = new MysqlDriver({ url: server.url })
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
      `mysql: partitioned holder's signal aborted after ${Math.round(abortedAtMs - partitionedAt)} ms, ` +
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
  } finally {
    proxy.heal()
    await holder.close()
    await contender.close()
  }
})

test('N2/L1: a cut connection (both sides reset) loses every lock of its session at once and frees them on the server', async () => {
  const holder = new Locker(new MysqlDriver({ url: proxy.urlFor(server.url) }), { ttlMs: 60_000 })
  const contender = new MysqlDriver({ url: server.url })
  try {
    const handles = await Promise.all(
      ['cut:a', 'cut:b'].map((key) => holder.acquire(key, { waitMs: 5_000 })),
    )
    const cutAt = performance.now()
    proxy.cut()
    await until(() => handles.every((h) => h.signal.aborted), 5_000)
    const lostMs = performance.now() - cutAt
    const lease = must(await contender.acquire(driverRequest('cut:a', { waitMs: 10_000 })))
    const freeMs = performance.now() - cutAt
    console.info(
      `mysql: cut connection: holders lost after ${Math.round(lostMs)} ms, key granted elsewhere after ${Math.round(freeMs)} ms`,
    )
    expect(lostMs).toBeLessThan(1_000)
    expect(freeMs).toBeLessThan(5_000)
    await contender.release(lease)
    for (const h of handles) await h.release()
  } finally {
    proxy.heal()
    await holder.close()
    await contender.close()
  }
})

test('L3/H1: with the server unreachable, an aborted wait returns at once and close() still finishes', async () => {
  const through = new MysqlDriver({ url: proxy.urlFor(server.url) })
  const direct = new MysqlDriver({ url: server.url })
  try {
    const held = must(await direct.acquire(driverRequest('unreachable:key')))
    const abort = new AbortController()
    const waiting = through.acquire(
      driverRequest('unreachable:key', { waitMs: 60_000, signal: abort.signal }),
    )
    await until(() => through.sessionCount >= 1)
    await new Promise((r) => setTimeout(r, 200)) // let the wait reach the server
    proxy.hold('both')
    const abortedAt = performance.now()
    abort.abort()
    expect(await waiting).toBeNull()
    expect(performance.now() - abortedAt).toBeLessThan(100)
    const closeStart = performance.now()
    await through.close()
    const closeMs = performance.now() - closeStart
    console.info(`mysql: close() with the server unreachable took ${Math.round(closeMs)} ms`)
    expect(closeMs).toBeLessThan(15_000)
    proxy.heal()
    await direct.release(held)
  } finally {
    proxy.heal()
    await Promise.all([through.close(), direct.close()])
  }
})
