import { describe, expect, it } from 'vitest'
import type { DriverLease, RenewResult } from '../src/driver.js'
import { MemoryStore } from '../src/driver-kit/index.js'
import {
  isLockError,
  LockBackendError,
  type LockEvent,
  Locker,
  type LockLostError,
  MemoryDriver,
  systemClock,
} from '../src/index.js'
import { CountingClock, FakeClock } from './fake-clock.js'
import { deferred, ScriptedDriver } from './scripted-driver.js'

describe('lifecycle edges', () => {
  it('closing the driver under a Locker loses its handles with reason "driver"', async () => {
    const driver = new MemoryDriver()
    const locker = new Locker(driver)
    const lock = await locker.acquire('k')
    const signal = lock.signal
    await driver.close()
    expect(signal.aborted).toBe(true)
    expect((signal.reason as LockLostError).reason).toBe('driver')
    await lock.release()
    await locker.close()
  })

  it('never asks a driver for a key that driver already holds, even one that would re-enter (S5)', async () => {
    // Like PostgreSQL advisory locks: a session that holds a key gets it again at once.
    const driver = new ScriptedDriver()
    const sessionHolds = new Map<string, DriverLease>()
    driver.acquireImpl = async (req) => {
      const mine = sessionHolds.get(req.key)
      if (mine !== undefined) return { ...mine, owner: req.owner }
      const lease = await driver.inner.acquire(req)
      if (lease !== null) sessionHolds.set(req.key, lease)
      return lease
    }
    driver.releaseImpl = async (lease) => {
      const mine = sessionHolds.get(lease.key)
      sessionHolds.delete(lease.key)
      return mine === undefined ? false : driver.inner.release(mine)
    }
    const a = new Locker(driver, { closeDriver: false })
    const b = new Locker(driver, { closeDriver: false })
    const held = await a.acquire('pg')
    expect(await b.tryAcquire('pg')).toBeNull()
    expect(await a.tryAcquire('pg')).toBeNull()
    const waiting = b.acquire('pg', { waitMs: 5_000 })
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(driver.acquires).toHaveLength(1)
    await held.release()
    const next = await waiting
    expect(next.state).toBe('held')
    await a.close()
    await b.close()
  })

  it('withLock: a release failure after fn succeeded is thrown; after fn failed, fn’s error wins', async () => {
    const driver = new ScriptedDriver()
    await using locker = new Locker(driver)
    driver.releaseImpl = () => Promise.reject(new Error('release broke'))
    await expect(locker.withLock('w', () => 1)).rejects.toBeInstanceOf(LockBackendError)
    const boom = new Error('fn broke')
    await expect(
      locker.withLock('v', () => {
        throw boom
      }),
    ).rejects.toBe(boom)
    driver.releaseImpl = undefined
  })

  it('an abort while queued in process leaves the queue working for the others', async () => {
    const driver = new ScriptedDriver()
    await using locker = new Locker(driver)
    const held = await locker.acquire('q')
    const ac = new AbortController()
    const aborted = locker
      .acquire('q', { waitMs: 60_000, signal: ac.signal })
      .catch((e: unknown) => e)
    const next = locker.acquire('q', { waitMs: 60_000 })
    ac.abort('changed my mind')
    expect(isLockError(await aborted, 'LOCK_ABORTED')).toBe(true)
    await held.release()
    const lock = await next
    expect(lock.fence).toBe(held.fence + 1n)
    expect(driver.acquires).toHaveLength(2) // the aborted one never reached the driver
  })

  it('tryAcquire of a key held in process returns null without asking the driver', async () => {
    const driver = new ScriptedDriver()
    const events: LockEvent[] = []
    await using locker = new Locker(driver, { onEvent: (e) => events.push(e) })
    await locker.acquire('t')
    expect(await locker.tryAcquire('t')).toBeNull()
    expect(driver.acquires).toHaveLength(1)
    expect(events.map((e) => e.type)).toEqual(['acquired', 'contended'])
  })

  it('a lost handle frees its in-process slot: the next local acquire proceeds', async () => {
    const clock = new FakeClock()
    const driver = new ScriptedDriver(new MemoryDriver({ clock }))
    await using locker = new Locker(driver, { clock, ttlMs: 3_000 })
    driver.renewImpl = async () => ({ ok: false })
    const lock = await locker.acquire('s')
    await clock.advance(1_000)
    expect(lock.state).toBe('lost')
    driver.renewImpl = undefined
    await driver.inner.forceRelease('s')
    expect(await locker.tryAcquire('s')).not.toBeNull()
  })

  it('close() waits for a renewal in flight, then releases', async () => {
    const clock = new FakeClock()
    const driver = new ScriptedDriver(new MemoryDriver({ clock }))
    const locker = new Locker(driver, { clock, ttlMs: 3_000 })
    const reply = deferred<RenewResult>()
    driver.renewImpl = () => reply.promise
    await locker.acquire('c')
    await clock.advance(1_000)
    let closed = false
    const closing = locker.close().then(() => {
      closed = true
    })
    await clock.advance(0)
    expect(closed).toBe(false)
    expect(driver.releases).toHaveLength(0)
    reply.resolve({ ok: true, ttlMs: 3_000 })
    await closing
    expect(driver.releases).toHaveLength(1)
    expect(driver.inner.store.activeKeyCount).toBe(0)
  })

  it('leaves no timer behind after close (H1)', async () => {
    const clock = new CountingClock(systemClock)
    const store = new MemoryStore({ clock: new CountingClock(systemClock) })
    const locker = new Locker(new MemoryDriver({ store }), { clock, ttlMs: 60 })
    const other = new Locker(new MemoryDriver({ store }), { clock })
    const held = await locker.acquire('h')
    const waiting = other.acquire('h', { waitMs: 5_000 })
    await new Promise((resolve) => setTimeout(resolve, 50)) // a renewal or two
    await locker.close() // hands the key to the waiter
    const handed = await waiting
    await other.close()
    expect(handed.state).toBe('released')
    expect(held.state).toBe('released')
    expect(clock.pendingTimers).toBe(0)
    expect((store.clock as CountingClock).pendingTimers).toBe(0)
    expect(store.activeKeyCount).toBe(0)
  })
})

describe('driver answers at the edges (fake clock)', () => {
  it('abandons a hung driver call exactly 50 ms after waitMs, and a tryAcquire attemptTimeoutMs after the call', async () => {
    const clock = new FakeClock(0)
    const driver = new ScriptedDriver(new MemoryDriver({ clock }))
    driver.acquireImpl = () => new Promise(() => {})
    await using locker = new Locker(driver, { clock, attemptTimeoutMs: 50 })
    let waited: unknown
    let tried: unknown
    void locker.acquire('a', { waitMs: 1_000 }).catch((e: unknown) => {
      waited = e
    })
    void locker.tryAcquire('b').catch((e: unknown) => {
      tried = e
    })
    await clock.advanceTo(49)
    expect(tried).toBeUndefined()
    await clock.advanceTo(50)
    expect(isLockError(tried, 'LOCK_TIMEOUT')).toBe(true)
    await clock.advanceTo(1_049)
    expect(waited).toBeUndefined()
    await clock.advanceTo(1_050)
    expect(isLockError(waited, 'LOCK_TIMEOUT')).toBe(true)
  })

  it('a grant whose validity already ended on arrival is handed out lost, never valid', async () => {
    const clock = new FakeClock(0)
    const driver = new ScriptedDriver(new MemoryDriver({ clock }))
    await using locker = new Locker(driver, { clock })
    driver.acquireImpl = async (req) => {
      const lease = await driver.inner.acquire(req)
      await clock.advance(0)
      clock.jumpTo(2_000) // the reply took longer than the TTL
      return lease
    }
    const lock = await locker.acquire('slow', { ttlMs: 1_000 })
    expect(lock.isValid()).toBe(false)
    expect(lock.state).toBe('lost')
    expect((lock.signal.reason as LockLostError).reason).toBe('expired')
  })
})

describe('safety under contention (real time)', () => {
  it('never lets two holders overlap, and fences rise in grant order', async () => {
    const store = new MemoryStore()
    const shared = new MemoryDriver({ store })
    const lockers = [
      ...[0, 1, 2, 3].map(() => new Locker(new MemoryDriver({ store }))),
      new Locker(shared, { closeDriver: false }),
      new Locker(shared, { closeDriver: false }),
    ]
    let inside = 0
    let maxInside = 0
    const fences: bigint[] = []
    const worker = async (locker: Locker) => {
      for (let i = 0; i < 25; i++) {
        await locker.withLock(
          'hot',
          async (lock) => {
            inside++
            maxInside = Math.max(maxInside, inside)
            fences.push(lock.fence)
            await new Promise((resolve) => setImmediate(resolve))
            lock.assertValid()
            inside--
          },
          { waitMs: 20_000, ttlMs: 5_000 },
        )
      }
    }
    await Promise.all(lockers.map(worker))
    expect(maxInside).toBe(1)
    expect(fences).toHaveLength(150)
    for (let i = 1; i < fences.length; i++)
      expect(fences[i]).toBeGreaterThan(fences[i - 1] as bigint)
    for (const locker of lockers) await locker.close()
    await shared.close()
    expect(store.activeKeyCount).toBe(0)
  })
})
