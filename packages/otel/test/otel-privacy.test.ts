import {
  type AcquireRequest,
  type DriverLease,
  isLockError,
  type LockDriver,
  Locker,
  MemoryDriver,
  type RenewResult,
} from '@baton-lock/core'
import { MemoryStore } from '@baton-lock/core/driver'
import { afterEach, beforeEach, expect, it } from 'vitest'
import { LockTelemetry } from '../src/index.js'
import { Sdk, until } from './sdk.js'

const SECRET = 'hunter2-not-for-traces'
const USER = 'alice@example.com'

/**
 * A MemoryDriver whose failures read like a real client's: the connection string with its
 * password, and the key, in the message. Only the failures are made up; grants are real.
 */
class LeakyDriver implements LockDriver {
  readonly name = 'memory'
  readonly inner: MemoryDriver
  failAcquire = false
  failRenew = false

  constructor(store: MemoryStore) {
    this.inner = new MemoryDriver({ store })
  }

  get capabilities() {
    return this.inner.capabilities
  }

  acquire(req: AcquireRequest): Promise<DriverLease | null> {
    if (this.failAcquire) return Promise.reject(this.#error(req.key))
    return this.inner.acquire(req)
  }

  renew(lease: DriverLease, ttlMs: number): Promise<RenewResult> {
    if (this.failRenew) return Promise.reject(this.#error(lease.key))
    return this.inner.renew(lease, ttlMs)
  }

  release(lease: DriverLease): Promise<boolean> {
    return this.inner.release(lease)
  }

  close(): Promise<void> {
    return this.inner.close()
  }

  #error(key: string): Error {
    return new Error(`redis://admin:${SECRET}@127.0.0.1:6379 refused ${key}`)
  }
}

let sdk: Sdk
let stopContext: () => void
beforeEach(() => {
  sdk = new Sdk()
  stopContext = Sdk.useAsyncContext()
})
afterEach(async () => {
  stopContext()
  await sdk.shutdown()
})

/** Everything a span or a metric point exports, as text. */
async function exported(): Promise<string> {
  const spans = sdk.finished().map((span) => ({
    name: span.name,
    attributes: span.attributes,
    status: span.status,
    events: span.events.map((e) => ({ name: e.name, attributes: e.attributes })),
    links: span.links.map((l) => l.attributes),
  }))
  const { resourceMetrics } = await sdk.reader.collect()
  const points = resourceMetrics.scopeMetrics.flatMap((scope) =>
    scope.metrics.flatMap((m) => m.dataPoints.map((p) => p.attributes)),
  )
  return JSON.stringify({ spans, points }, (_, v) => (typeof v === 'bigint' ? v.toString() : v))
}

it('no attribute, event, status or metric point names the key or a credential (recordKeys off)', async () => {
  const store = new MemoryStore()
  const driver = new LeakyDriver(store)
  let suspended = 0
  const telemetry = new LockTelemetry({
    tracerProvider: sdk.tracerProvider,
    meterProvider: sdk.meterProvider,
    onEvent: (e) => {
      if (e.type === 'suspended') suspended++
    },
  })
  const locker = telemetry.instrument(
    new Locker(driver, { namespace: 'tenant-7', ttlMs: 600, onEvent: telemetry.onEvent }),
  )
  const key = (what: string) => `user:${USER}:${what}`

  // every kind of grant, each released
  await (await locker.acquire(key('x'))).release()
  await (await locker.acquire(key('r'), { mode: 'shared' })).release()
  await locker.semaphore(key('s'), { limit: 3 }).withLock(() => undefined)
  await locker.elect(key('e'), () => undefined, { value: `leader ${USER}` })
  await locker.withAll([key('a1'), key('a2')], () => undefined)
  expect(await locker.tryAcquire(key('t'))).not.toBeNull()

  // a backend failure whose message has the password and the key
  driver.failAcquire = true
  await expect(locker.acquire(key('fail'))).rejects.toSatisfy((e) => isLockError(e, 'LOCK_BACKEND'))
  await expect(locker.acquireAll([key('f1')])).rejects.toSatisfy((e) =>
    isLockError(e, 'LOCK_BACKEND'),
  )
  driver.failAcquire = false

  // a renewal failing the same way (suspended), then a loss whose error names the key
  const held = await locker.acquire(key('held'))
  driver.failRenew = true
  await until(() => suspended > 0, 5_000, 'a suspension')
  driver.failRenew = false
  store.drop(`tenant-7:${key('held')}`)
  expect(held.state).toBe('lost')
  await held.release()
  await locker.close()

  const text = await exported()
  expect(sdk.finished().length).toBeGreaterThanOrEqual(16)
  expect(text).toContain('"baton.lock.mode":"semaphore"')
  expect(text).toContain('"baton.lock.outcome":"error"')
  expect(text).toContain('suspended')
  expect(text).toContain('"baton.lock.lost.reason":"driver"')
  for (const secret of [SECRET, USER, 'user:', 'tenant-7', 'redis://']) {
    expect(text).not.toContain(secret)
  }
  expect(telemetry.openHoldSpans).toBe(0)
})
