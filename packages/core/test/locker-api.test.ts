import { describe, expect, it } from 'vitest'
import { MemoryStore } from '../src/driver-kit/index.js'
import {
  isLockError,
  LockBackendError,
  type LockEvent,
  Locker,
  LockUnsupportedError,
  MemoryDriver,
} from '../src/index.js'
import { FakeClock } from './fake-clock.js'
import { ScriptedDriver } from './scripted-driver.js'

describe('Locker API (real time, MemoryDriver)', () => {
  it('sends the namespaced key to the driver and reports the user key', async () => {
    const driver = new ScriptedDriver()
    const events: LockEvent[] = []
    await using locker = new Locker(driver, { namespace: 'app', onEvent: (e) => events.push(e) })
    const lock = await locker.acquire('job')
    expect(lock.key).toBe('job')
    expect(driver.acquires[0]?.key).toBe('app:job')
    expect(await locker.inspect('job')).toMatchObject({ held: true, fence: lock.fence })
    expect(await driver.inner.inspect('job')).toBeNull()
    await lock.release()
    expect(await locker.inspect('job')).toEqual({ held: false })
    expect(events.every((e) => e.key === 'job')).toBe(true)
  })

  it('inspect() throws LockUnsupportedError when the driver cannot tell', async () => {
    await using locker = new Locker(new ScriptedDriver(undefined, { inspect: false }))
    await expect(locker.inspect('k')).rejects.toBeInstanceOf(LockUnsupportedError)
  })

  it('maps driver errors to LockBackendError with a redacted message and the raw cause', async () => {
    const driver = new ScriptedDriver()
    const raw = new Error('connect ECONNREFUSED redis://app:s3cret@db:6379')
    driver.acquireImpl = () => Promise.reject(raw)
    await using locker = new Locker(driver)
    const err = await locker.acquire('k').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(LockBackendError)
    expect(isLockError(err, 'LOCK_BACKEND')).toBe(true)
    expect((err as Error).message).toContain(
      'scripted: connect ECONNREFUSED redis://app:***@db:6379',
    )
    expect((err as Error).message).not.toContain('s3cret')
    expect((err as Error).cause).toBe(raw)
    driver.acquireImpl = undefined
    const lock = await locker.tryAcquire('k') // the in-process slot was freed
    expect(lock).not.toBeNull()
  })

  it('withLock returns the result, and releases even when fn throws', async () => {
    const store = new MemoryStore()
    await using locker = new Locker(new MemoryDriver({ store }))
    const value = await locker.withLock('w', (lock) => {
      expect(lock.isValid()).toBe(true)
      return 7
    })
    expect(value).toBe(7)
    const boom = new Error('boom')
    await expect(locker.withLock('w', async () => Promise.reject(boom))).rejects.toBe(boom)
    expect(store.activeKeyCount).toBe(0)
  })

  it('supports await using on handles', async () => {
    const store = new MemoryStore()
    await using locker = new Locker(new MemoryDriver({ store }))
    {
      await using lock = await locker.acquire('u')
      expect(store.inspect('u')?.fence).toBe(lock.fence)
    }
    expect(store.activeKeyCount).toBe(0)
  })

  it('release() is idempotent and does not throw for a lock already gone', async () => {
    const driver = new ScriptedDriver()
    await using locker = new Locker(driver)
    const lock = await locker.acquire('r')
    await Promise.all([lock.release(), lock.release()])
    await lock.release()
    expect(driver.releases).toHaveLength(1)
    const gone = await locker.acquire('r')
    await driver.inner.dropLock({ key: 'r' }, { notify: false })
    await gone.release() // the driver says false: nothing to throw about
    expect(gone.state).toBe('released')
  })

  it('release() surfaces a backend failure once, and still frees the in-process slot', async () => {
    const driver = new ScriptedDriver()
    await using locker = new Locker(driver)
    const lock = await locker.acquire('r')
    driver.releaseImpl = () => Promise.reject(new Error('socket closed'))
    await expect(lock.release()).rejects.toBeInstanceOf(LockBackendError)
    await lock.release()
    driver.releaseImpl = undefined
    await driver.inner.forceRelease('r')
    expect(await locker.tryAcquire('r')).not.toBeNull()
  })

  async function grantOrder(
    holder: Locker,
    lockers: Locker[],
    waitersPer: number,
  ): Promise<number[]> {
    const first = await holder.acquire('q')
    const order: number[] = []
    const waiters = []
    for (let i = 0; i < lockers.length * waitersPer; i++) {
      const locker = lockers[i % lockers.length] as Locker
      waiters.push(
        locker.acquire('q', { waitMs: 10_000 }).then(async (lock) => {
          order.push(i)
          await lock.release()
        }),
      )
      await new Promise((resolve) => setTimeout(resolve, 5)) // let it queue before the next
    }
    await first.release()
    await Promise.all(waiters)
    return order
  }

  it('grants waiters on one driver in arrival order (in-process FIFO)', async () => {
    const driver = new MemoryDriver()
    const lockers = [
      new Locker(driver, { closeDriver: false }),
      new Locker(driver, { closeDriver: false }),
    ]
    expect(await grantOrder(lockers[0] as Locker, lockers, 3)).toEqual([0, 1, 2, 3, 4, 5])
    for (const locker of lockers) await locker.close()
    expect(driver.store.activeKeyCount).toBe(0)
  })

  it('grants waiters on different drivers in arrival order (backend FIFO)', async () => {
    const store = new MemoryStore()
    const [holder, ...lockers] = [0, 1, 2, 3, 4, 5, 6, 7, 8].map(
      () => new Locker(new MemoryDriver({ store })),
    )
    expect(await grantOrder(holder as Locker, lockers, 1)).toEqual([0, 1, 2, 3, 4, 5, 6, 7])
    for (const locker of [holder as Locker, ...lockers]) await locker.close()
    expect(store.activeKeyCount).toBe(0)
  })

  it('emits acquired, contended, timeout, renewed and released with key, fence and durations', async () => {
    const events: LockEvent[] = []
    await using locker = new Locker(new MemoryDriver(), {
      ttlMs: 150,
      onEvent: (e) => events.push(e),
    })
    const lock = await locker.acquire('e')
    await expect(locker.acquire('e', { waitMs: 10 })).rejects.toMatchObject({
      code: 'LOCK_TIMEOUT',
    })
    while (!events.some((e) => e.type === 'renewed')) await new Promise((r) => setTimeout(r, 10))
    await lock.release()
    const types = events.map((e) => e.type)
    expect(types.slice(0, 3)).toEqual(['acquired', 'contended', 'timeout'])
    expect(types.at(-1)).toBe('released')
    expect(events[0]).toMatchObject({
      key: 'e',
      mode: 'exclusive',
      fence: lock.fence,
      owner: lock.owner,
    })
    expect(events.find((e) => e.type === 'timeout')).toMatchObject({
      key: 'e',
      mode: 'exclusive',
      waitedMs: expect.any(Number),
    })
    const released = events.at(-1) as Extract<LockEvent, { type: 'released' }>
    expect(released.heldMs).toBeGreaterThan(0)
    expect(released.fence).toBe(lock.fence)
    expect(events.every((e) => e.mode === 'exclusive')).toBe(true)
  })

  it("every event names the grant's mode: shared, semaphore, and an election's exclusive", async () => {
    const events: LockEvent[] = []
    const store = new MemoryStore()
    await using locker = new Locker(new MemoryDriver({ store }), {
      onEvent: (e) => events.push(e),
    })
    const reader = await locker.acquire('r', { mode: 'shared' })
    await expect(locker.acquire('r', { waitMs: 10 })).rejects.toMatchObject({
      code: 'LOCK_TIMEOUT',
    })
    await reader.release()
    const semaphore = locker.semaphore('s', { limit: 1 })
    const permit = await semaphore.acquire()
    expect(await semaphore.tryAcquire()).toBeNull()
    expect(store.drop('s', { mode: 'semaphore' })).toBe(true)
    expect(permit.state).toBe('lost')
    const election = locker.election('e', { value: 'me' })
    await (await election.campaign()).release()
    const seen = events.map((e) => `${e.type}:${e.key}:${e.mode}`)
    expect(seen).toEqual([
      'acquired:r:shared',
      'contended:r:exclusive',
      'timeout:r:exclusive',
      'released:r:shared',
      'acquired:s:semaphore',
      'contended:s:semaphore',
      'lost:s:semaphore',
      'acquired:e:exclusive',
      'released:e:exclusive',
    ])
  })

  it('a listener that throws never breaks the lock', async () => {
    let calls = 0
    const onEvent = () => {
      calls++
      throw new Error('listener bug')
    }
    // A fake clock: real 30 ms renewals miss their window on a loaded machine.
    const clock = new FakeClock(0)
    await using locker = new Locker(new MemoryDriver({ clock }), { ttlMs: 90, onEvent, clock })
    const lock = await locker.acquire('l')
    await clock.advance(200) // several renewals at 30 ms
    expect(lock.isValid()).toBe(true)
    await lock.release()
    expect(calls).toBeGreaterThanOrEqual(3)
    expect(lock.state).toBe('released')
  })

  it('close() is idempotent, closes the driver once, and every later call throws LockClosedError', async () => {
    const driver = new ScriptedDriver()
    const locker = new Locker(driver)
    const lock = await locker.acquire('c')
    await Promise.all([locker.close(), locker.close()])
    await locker[Symbol.asyncDispose]()
    expect(driver.closed).toBe(1)
    expect(lock.state).toBe('released')
    for (const call of [
      () => locker.acquire('c'),
      () => locker.tryAcquire('c'),
      () => locker.withLock('c', () => 1),
      () => locker.inspect('c'),
    ]) {
      await expect(call()).rejects.toMatchObject({ code: 'LOCK_CLOSED' })
    }
    await expect(lock.extend()).rejects.toMatchObject({ code: 'LOCK_CLOSED' })
  })

  it('closeDriver: false leaves the driver open for others', async () => {
    const driver = new ScriptedDriver()
    const locker = new Locker(driver, { closeDriver: false })
    await locker.acquire('c')
    await locker.close()
    expect(driver.closed).toBe(0)
    await using again = new Locker(driver)
    expect(await again.tryAcquire('c')).not.toBeNull()
  })
})
