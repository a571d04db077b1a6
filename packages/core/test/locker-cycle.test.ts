import { describe, expect, it } from 'vitest'
import type { AcquireRequest, DriverLease } from '../src/driver.js'
import { LeaseBook } from '../src/driver-kit/lease-book.js'
import {
  isLockError,
  type LockEvent,
  Locker,
  type LockLostError,
  MemoryDriver,
} from '../src/index.js'
import { LOSS_WATCH, type LossNotifier } from '../src/lease-loss.js'
import { CountingClock, FakeClock } from './fake-clock.js'
import { ScriptedDriver } from './scripted-driver.js'

// What the uncontended acquire+release cycle no longer makes, and that each saving keeps
// the behaviour: deadlines on the Locker's one timer, the request built by a class, loss
// told by the kit's leases without a `lost` signal.
const T0 = 1_000
const TTL = 3_000
const hang = () => new Promise<never>(() => {})

describe('acquire deadlines on the Locker timer (fake clock)', () => {
  it('times each hung acquire out at its own deadline, on one timer', async () => {
    const clock = new FakeClock(T0)
    const lockerClock = new CountingClock(clock)
    const driver = new ScriptedDriver(new MemoryDriver({ clock }))
    driver.acquireImpl = hang
    const locker = new Locker(driver, { clock: lockerClock, ttlMs: TTL })
    const failedAt = new Map<string, number>()
    const waits = [300, 100, 200, 100]
    const all = waits.map((waitMs, i) =>
      locker.acquire(`k${i}`, { waitMs }).catch((err) => {
        expect(isLockError(err, 'LOCK_TIMEOUT')).toBe(true)
        failedAt.set(`k${i}`, clock.now())
      }),
    )
    await clock.advance(0)
    expect(lockerClock.pendingTimers).toBe(1)
    // The hard deadline is waitMs + 50 ms (the driver normally answers null at waitMs).
    await clock.advanceTo(T0 + 149)
    expect(failedAt.size).toBe(0)
    await clock.advanceTo(T0 + 150)
    expect([...failedAt.keys()].sort()).toEqual(['k1', 'k3'])
    await clock.advanceTo(T0 + 350)
    await Promise.all(all)
    expect(Object.fromEntries(failedAt)).toEqual({
      k0: T0 + 350,
      k1: T0 + 150,
      k2: T0 + 250,
      k3: T0 + 150,
    })
    await locker.close()
    expect(lockerClock.pendingTimers).toBe(0)
  })

  it('a released cycle leaves its deadline behind for no one: the renewal still runs on time', async () => {
    const clock = new FakeClock(T0)
    const driver = new ScriptedDriver(new MemoryDriver({ clock }))
    const locker = new Locker(driver, { clock, ttlMs: TTL })
    for (let i = 0; i < 100; i++) await (await locker.acquire('short')).release()
    const held = await locker.acquire('held')
    await clock.advanceTo(T0 + TTL / 3 - 1)
    expect(driver.renewManyCalls).toHaveLength(0)
    await clock.advanceTo(T0 + TTL / 3)
    expect(driver.renewManyCalls).toHaveLength(1)
    expect(held.isValid()).toBe(true)
    await locker.close()
    expect(clock.pendingTimers).toBe(0)
  })

  it('an acquire that waited in process keeps its wait deadline, then the hard one', async () => {
    const clock = new FakeClock(T0)
    const driver = new ScriptedDriver(new MemoryDriver({ clock }))
    const locker = new Locker(driver, { clock, ttlMs: TTL })
    const holder = await locker.acquire('k')
    let failedAtMs: number | undefined
    const waiting = locker.acquire('k', { waitMs: 500 }).catch((err) => {
      expect(isLockError(err, 'LOCK_TIMEOUT')).toBe(true)
      failedAtMs = clock.now()
    })
    await clock.advanceTo(T0 + 400)
    driver.acquireImpl = hang
    await holder.release() // the waiter gets the slot, then its driver call hangs
    await clock.advanceTo(T0 + 549)
    expect(failedAtMs).toBeUndefined()
    await clock.advanceTo(T0 + 550)
    await waiting
    expect(failedAtMs).toBe(T0 + 550)
    await locker.close()
  })
})

describe('the request a driver gets', () => {
  it('has the contract fields as own properties, a lazy signal that survives a spread', async () => {
    const driver = new ScriptedDriver()
    const locker = new Locker(driver)
    const lock = await locker.acquire('k', { waitMs: 0 })
    const req = driver.acquires[0] as AcquireRequest
    expect(Object.keys(req).sort()).toEqual([
      'key',
      'mode',
      'onAbort',
      'owner',
      'signal',
      'ttlMs',
      'waitMs',
    ])
    expect('limit' in req || 'value' in req || 'onContended' in req).toBe(false)
    const copy = { ...req, waitMs: 5 }
    expect(copy.signal).toBeInstanceOf(AbortSignal)
    expect(copy.signal).toBe(req.signal)
    expect(copy.signal.aborted).toBe(false)
    await lock.release()
    const sem = locker.semaphore('s', { limit: 3 })
    await (await sem.acquire({ waitMs: 0 })).release()
    const semReq = driver.acquires[1] as AcquireRequest
    expect({ mode: semReq.mode, limit: semReq.limit }).toEqual({ mode: 'semaphore', limit: 3 })
    // A try is one attempt even when its options (untyped) carry a wait.
    await (await locker.tryAcquire('t', { waitMs: 999 } as never))?.release()
    await (await sem.tryAcquire({ waitMs: 999 } as never))?.release()
    expect(driver.acquires.slice(2).map((r) => r.waitMs)).toEqual([0, 0])
    await locker.close()
  })

  it('aborts the signal first read after the attempt stopped, with the stop reason', async () => {
    const clock = new FakeClock(T0)
    const driver = new ScriptedDriver(new MemoryDriver({ clock }))
    let request: AcquireRequest | undefined
    driver.acquireImpl = (req) => {
      request = req // not reading the signal
      return hang()
    }
    const locker = new Locker(driver, { clock, ttlMs: TTL })
    const failed = locker.tryAcquire('k').catch((err: unknown) => err)
    await clock.advance(5_000) // attemptTimeoutMs
    const err = await failed
    expect(isLockError(err, 'LOCK_TIMEOUT')).toBe(true)
    expect(request?.signal.aborted).toBe(true)
    expect(request?.signal.reason).toBe(err)
    await locker.close()
  })

  it('calls onAbort listeners once with the stop reason, not after their removal, and at once when registered late', async () => {
    const clock = new FakeClock(T0)
    const driver = new ScriptedDriver(new MemoryDriver({ clock }))
    let request: AcquireRequest | undefined
    driver.acquireImpl = (req) => {
      request = req
      return hang()
    }
    const locker = new Locker(driver, { clock, ttlMs: TTL })
    const failed = locker.tryAcquire('k').catch((err: unknown) => err)
    await clock.advance(0)
    const heard: unknown[] = []
    const removed: unknown[] = []
    const onAbort = request?.onAbort as NonNullable<AcquireRequest['onAbort']>
    onAbort((reason) => heard.push(reason))
    onAbort((reason) => removed.push(reason))()
    onAbort((reason) => heard.push(reason))
    await clock.advance(5_000) // attemptTimeoutMs
    const err = await failed
    expect(isLockError(err, 'LOCK_TIMEOUT')).toBe(true)
    expect(heard).toEqual([err, err])
    expect(removed).toEqual([])
    onAbort((reason) => heard.push(reason))
    expect(heard).toEqual([err, err, err])
    expect(request?.signal.reason).toBe(err)
    await locker.close()
  })
})

/** A driver over a LeaseBook whose leases are the kit's, so loss is told without a signal. */
class BookDriver {
  readonly name = 'book'
  readonly inner = new MemoryDriver()
  readonly capabilities = this.inner.capabilities
  readonly book = new LeaseBook()
  #fence = 0n
  async acquire(req: AcquireRequest): Promise<DriverLease | null> {
    this.#fence += 1n
    return this.book.grant(
      req,
      { fence: this.#fence, ttlMs: req.ttlMs, sentAtMs: performance.now() },
      undefined,
    )
  }
  async renew(_lease: DriverLease, ttlMs: number) {
    return { ok: true as const, ttlMs }
  }
  async release(lease: DriverLease): Promise<boolean> {
    return this.book.forget(lease) !== undefined
  }
  async close(): Promise<void> {}
}

describe('loss told by the lease itself', () => {
  it('a loss before the first read of signal is visible at once, with its reason', async () => {
    for (const drop of ['kit', 'memory'] as const) {
      const book = new BookDriver()
      const memory = new MemoryDriver()
      const locker = new Locker(drop === 'kit' ? book : memory)
      const lock = await locker.acquire('k')
      const cause = new Error('session gone')
      if (drop === 'kit') {
        const [entry] = [...book.book.entries()]
        book.book.lose((entry as { lease: DriverLease }).lease, cause)
      } else {
        await memory.dropLock({ key: 'k' })
      }
      const signal = lock.signal // first read, after the loss; no timer ran
      expect(signal.aborted).toBe(true)
      const reason = signal.reason as LockLostError
      expect(reason.reason).toBe('driver')
      if (drop === 'kit') expect(reason.cause).toBe(cause)
      else expect(String((reason.cause as Error).message)).toMatch(/dropped/)
      expect(lock.state).toBe('lost')
      await locker.close()
    }
  })

  it('a watched lease reports its loss at once, as an event and on the signal (N2)', async () => {
    const driver = new BookDriver()
    const events: LockEvent[] = []
    const locker = new Locker(driver, { onEvent: (e) => events.push(e) })
    const lock = await locker.acquire('k')
    const [entry] = [...driver.book.entries()]
    const cause = new Error('evicted')
    driver.book.lose((entry as { lease: DriverLease }).lease, cause)
    expect(events.map((e) => e.type)).toEqual(['acquired', 'lost'])
    expect(lock.signal.aborted).toBe(true)
    expect((lock.signal.reason as LockLostError).cause).toBe(cause)
    await locker.close()
  })

  it('a released lock stops watching its lease', async () => {
    const driver = new BookDriver()
    const locker = new Locker(driver, { onEvent: () => {} })
    const lock = await locker.acquire('k')
    const [entry] = [...driver.book.entries()]
    const lease = (entry as { lease: DriverLease }).lease as unknown as LossNotifier
    const watchers: unknown[] = []
    const watch = lease[LOSS_WATCH].bind(lease)
    lease[LOSS_WATCH] = (onLost) => {
      watchers.push(onLost)
      watch(onLost)
    }
    await lock.release()
    expect(watchers).toEqual([undefined])
    expect(lock.state).toBe('released')
    await locker.close()
  })

  it('a lease with its own lost signal (no kit) is still listened to', async () => {
    const inner = new MemoryDriver()
    const stop = new AbortController()
    const driver = new ScriptedDriver(inner)
    driver.acquireImpl = async (req) => {
      const lease = await inner.acquire(req)
      return lease === null
        ? null
        : {
            key: lease.key,
            owner: lease.owner,
            fence: lease.fence,
            ttlMs: lease.ttlMs,
            sentAtMs: lease.sentAtMs,
            lost: stop.signal,
          }
    }
    const locker = new Locker(driver)
    const lock = await locker.acquire('k')
    const signal = lock.signal
    stop.abort(new Error('gone'))
    expect(signal.aborted).toBe(true)
    expect(((signal.reason as LockLostError).cause as Error).message).toBe('gone')
    await locker.close()
  })
})
