import { describe, expect, it } from 'vitest'
import { defineCapabilities } from '../src/capabilities.js'
import type { AcquireRequest, DriverLease } from '../src/driver.js'
import { isLockError, Locker, MemoryDriver } from '../src/index.js'
import type { LockEvent } from '../src/lock-event.js'
import { ScriptedDriver } from './scripted-driver.js'

/**
 * A driver that declares `queuedWait` (as ZooKeeper's does): its waiting acquire looks once,
 * reports `onContended` when the key is held, then waits. `reportTwice` checks that core
 * takes only the first report.
 */
class QueuedDriver extends ScriptedDriver {
  override readonly capabilities = defineCapabilities({
    ...new MemoryDriver().capabilities,
    queuedWait: true,
  })

  constructor(inner: MemoryDriver, reportTwice = false) {
    super(inner)
    this.acquireImpl = async (req: AcquireRequest): Promise<DriverLease | null> => {
      const now = await this.inner.acquire({ ...req, waitMs: 0 })
      if (now !== null || req.waitMs === 0) {
        if (now === null) req.onContended?.()
        return now
      }
      req.onContended?.()
      if (reportTwice) req.onContended?.()
      return this.inner.acquire(req)
    }
  }
}

describe('Locker over a driver with capabilities.queuedWait', () => {
  it('makes one driver call with the whole wait for an uncontended acquire, and none reports contention', async () => {
    const driver = new QueuedDriver(new MemoryDriver())
    const events: LockEvent[] = []
    await using locker = new Locker(driver, { waitMs: 4_000, onEvent: (e) => events.push(e) })
    const startedAtMs = performance.now()
    const lock = await locker.acquire('q')
    const elapsedMs = performance.now() - startedAtMs
    // One call carrying the whole wait (no waitMs-0 try first): all of it but the time the
    // acquire took to reach the driver, which a loaded machine can make a few ms.
    expect(driver.acquires).toHaveLength(1)
    const waitMs = driver.acquires[0]?.waitMs ?? 0
    expect(waitMs).toBeLessThanOrEqual(4_000)
    expect(waitMs).toBeGreaterThanOrEqual(4_000 - Math.ceil(elapsedMs))
    expect(typeof driver.acquires[0]?.onContended).toBe('function')
    await lock.release()
    expect(events.map((e) => e.type)).toEqual(['acquired', 'released'])
  })

  it('a contended acquire is one driver call; the driver reports contention once, before the grant', async () => {
    const inner = new MemoryDriver()
    const driver = new QueuedDriver(inner, true)
    const events: LockEvent[] = []
    await using holder = new Locker(new MemoryDriver({ store: inner.store }))
    await using locker = new Locker(driver, { onEvent: (e) => events.push(e) })
    const held = await holder.acquire('q')
    const waiting = locker.acquire('q', { waitMs: 5_000 })
    while (!events.some((e) => e.type === 'contended')) await new Promise((r) => setTimeout(r, 5))
    await held.release()
    const next = await waiting
    expect(next.fence).toBeGreaterThan(held.fence)
    expect(driver.acquires).toHaveLength(1)
    expect(driver.acquires[0]?.waitMs).toBeGreaterThan(4_900)
    expect(events.map((e) => e.type)).toEqual(['contended', 'acquired'])
    await next.release()
  })

  it('tryAcquire is still one waitMs: 0 attempt, and a timeout emits contended then timeout', async () => {
    const inner = new MemoryDriver()
    const driver = new QueuedDriver(inner)
    const events: LockEvent[] = []
    await using holder = new Locker(new MemoryDriver({ store: inner.store }))
    await using locker = new Locker(driver, { onEvent: (e) => events.push(e) })
    const held = await holder.acquire('q')
    expect(await locker.tryAcquire('q')).toBeNull()
    expect(driver.acquires.map((req) => req.waitMs)).toEqual([0])
    expect(driver.acquires[0]?.onContended).toBeUndefined()
    const calledAtMs: number[] = []
    const acquire = driver.acquireImpl
    if (acquire === undefined) throw new Error('QueuedDriver sets acquireImpl')
    driver.acquireImpl = (req) => {
      calledAtMs.push(performance.now())
      return acquire(req)
    }
    const startedAtMs = performance.now()
    const err = await locker.acquire('q', { waitMs: 30 }).catch((e: unknown) => e)
    expect(isLockError(err, 'LOCK_TIMEOUT')).toBe(true)
    expect(driver.acquires).toHaveLength(2)
    // the whole wait, less the time the acquire took to reach the driver
    const waitMs = driver.acquires[1]?.waitMs ?? 0
    expect(waitMs).toBeLessThanOrEqual(30)
    expect(waitMs).toBeGreaterThanOrEqual(30 - Math.ceil((calledAtMs[0] ?? Infinity) - startedAtMs))
    expect(events.map((e) => e.type)).toEqual(['contended', 'contended', 'timeout'])
    await held.release()
  })

  it('a report that arrives after the attempt stopped emits nothing', async () => {
    const driver = new QueuedDriver(new MemoryDriver())
    let late: (() => void) | undefined
    driver.acquireImpl = (req) => {
      late = req.onContended
      return new Promise<null>((resolve) =>
        req.signal.addEventListener('abort', () => resolve(null)),
      )
    }
    const events: LockEvent[] = []
    await using locker = new Locker(driver, { onEvent: (e) => events.push(e) })
    const err = await locker.acquire('q', { waitMs: 20 }).catch((e: unknown) => e)
    expect(isLockError(err, 'LOCK_TIMEOUT')).toBe(true)
    late?.()
    expect(late).toBeTypeOf('function')
    expect(events.map((e) => e.type)).toEqual(['timeout'])
  })
})
