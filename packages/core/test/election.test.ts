import { hostname } from 'node:os'
import { describe, expect, it } from 'vitest'
import { MemoryStore } from '../src/driver-kit/index.js'
import { Election, isLockError, Locker, type LockHandle, MemoryDriver } from '../src/index.js'
import { ScriptedDriver } from './scripted-driver.js'

function setup(count: number) {
  const store = new MemoryStore()
  const lockers = Array.from(
    { length: count },
    () => new Locker(new MemoryDriver({ store }), { namespace: 'app', ttlMs: 5_000 }),
  )
  return { store, lockers, close: () => Promise.all(lockers.map((l) => l.close())) }
}

/** Resolves once `signal` aborts (at once if it has). */
function aborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve()
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }))
}

/** Whether `promise` is still pending after the event loop had a few turns. */
async function pending(promise: Promise<unknown>): Promise<boolean> {
  const marker = Symbol('pending')
  const turn = new Promise((resolve) => setTimeout(resolve, 20, marker))
  return (
    (await Promise.race([
      promise.then(
        () => 'settled',
        () => 'settled',
      ),
      turn,
    ])) === marker
  )
}

describe('Election', () => {
  it('campaign makes one leader; resign hands over to a waiting candidate; leader() names the leader', async () => {
    const { lockers, close } = setup(2)
    const [a, b] = lockers as [Locker, Locker]
    const ea = a.election('coord', { value: 'host-a:8080' })
    const eb = b.election('coord', { value: 'host-b:8080' })
    expect(await eb.leader()).toBeNull()
    const leadership = await ea.campaign()
    expect(leadership.mode).toBe('exclusive')
    expect(ea.isLeader()).toBe(true)
    expect(ea.leadership).toBe(leadership)
    expect(await ea.campaign()).toBe(leadership)
    expect(await eb.leader()).toEqual({
      value: 'host-a:8080',
      fence: leadership.fence,
      owner: leadership.owner,
      ttlRemainingMs: expect.any(Number),
    })
    const second = eb.campaign()
    expect(eb.campaign()).toBe(second)
    expect(await pending(second)).toBe(true)
    expect(eb.isLeader()).toBe(false)
    await ea.resign()
    expect(ea.isLeader()).toBe(false)
    const next = await second
    expect(next.fence).toBeGreaterThan(leadership.fence)
    expect((await ea.leader())?.value).toBe('host-b:8080')
    await eb.resign()
    await eb.resign()
    expect(await ea.leader()).toBeNull()
    await close()
  })

  it('the leader holds the key\u2019s exclusive lock: acquire(key) is refused while it leads', async () => {
    const { lockers, close } = setup(2)
    const [a, b] = lockers as [Locker, Locker]
    const e = a.election('coord')
    expect(e.value).toBe(`${hostname()}:${process.pid}`)
    await e.campaign()
    expect(await b.tryAcquire('coord')).toBeNull()
    await e.resign()
    const lock = await b.tryAcquire('coord')
    expect(lock).not.toBeNull()
    await expect(e.campaign({ waitMs: 10 })).rejects.toSatisfy((err) =>
      isLockError(err, 'LOCK_TIMEOUT'),
    )
    await lock?.release()
    await close()
  })

  it('resign() stops a running campaign with LockAbortedError, and nothing stays held', async () => {
    const { lockers, close } = setup(2)
    const [a, b] = lockers as [Locker, Locker]
    const holder = await a.acquire('coord')
    const e = b.election('coord')
    const campaign = e.campaign()
    expect(await pending(campaign)).toBe(true)
    await e.resign()
    const err = await campaign.catch((x: unknown) => x)
    expect(isLockError(err, 'LOCK_ABORTED')).toBe(true)
    expect((err as Error & { cause?: unknown }).cause).toBe('resigned')
    await holder.release()
    expect(await a.inspect('coord')).toEqual({ held: false })
    expect(e.isLeader()).toBe(false)
    await close()
  })

  it('resign() just after the grant arrived, before the campaign saw it, gives it back', async () => {
    let resolveGrant: ((handle: LockHandle) => void) | undefined
    const released: string[] = []
    const handle = {
      isValid: () => true,
      release: async () => {
        released.push('released')
      },
    } as unknown as LockHandle
    const e = new Election('coord', 'me', {
      acquire: () =>
        new Promise<LockHandle>((resolve) => {
          resolveGrant = resolve
        }),
      inspect: async () => ({ held: false }),
    })
    const campaign = e.campaign().catch((x: unknown) => x)
    resolveGrant?.(handle)
    const resigned = e.resign()
    expect(isLockError(await campaign, 'LOCK_ABORTED')).toBe(true)
    await resigned
    expect(released).toEqual(['released'])
    expect(e.isLeader()).toBe(false)
  })

  it('resign() while the grant is on its way gives it back: the candidate does not lead', async () => {
    const driver = new ScriptedDriver()
    let grant: (() => void) | undefined
    driver.acquireImpl = (req) =>
      new Promise((resolve) => {
        grant = () => resolve(driver.inner.acquire({ ...req, waitMs: 0 }))
      })
    await using locker = new Locker(driver)
    const e = locker.election('coord')
    const campaign = e.campaign().catch((x: unknown) => x)
    await new Promise((resolve) => setImmediate(resolve))
    const resigned = e.resign()
    grant?.()
    await resigned
    const outcome = await campaign
    expect(isLockError(outcome, 'LOCK_ABORTED')).toBe(true)
    expect(e.isLeader()).toBe(false)
    expect(await driver.inner.inspect('coord')).toBeNull()
  })

  it('lead() runs fn while leading, resigns when it returns, and recampaigns after a forced loss', async () => {
    const { store, lockers, close } = setup(1)
    const [a] = lockers as [Locker]
    const terms: Array<{ fence: bigint; lost: boolean }> = []
    await a.elect(
      'coord',
      async (leadership: LockHandle, signal: AbortSignal) => {
        if (terms.length === 0) {
          // The backend takes the leadership away (an eviction, a session kill).
          store.drop('app:coord', { owner: leadership.owner })
          await aborted(signal)
          terms.push({ fence: leadership.fence, lost: isLockError(signal.reason, 'LOCK_LOST') })
          return
        }
        terms.push({ fence: leadership.fence, lost: false })
      },
      { recampaign: true, value: 'me' },
    )
    expect(terms).toHaveLength(2)
    expect(terms[0]?.lost).toBe(true)
    expect((terms[1]?.fence ?? 0n) > (terms[0]?.fence ?? 0n)).toBe(true)
    expect(await a.inspect('coord')).toEqual({ held: false })
    await close()
  })

  it('lead() without recampaign returns after a loss; lead() rejects with fn\u2019s error after resigning', async () => {
    const { store, lockers, close } = setup(1)
    const [a] = lockers as [Locker]
    const e = a.election('coord')
    let runs = 0
    await e.lead(async (leadership, signal) => {
      runs++
      store.drop('app:coord', { owner: leadership.owner })
      await aborted(signal)
    })
    expect(runs).toBe(1)
    const boom = new Error('boom')
    await expect(
      e.lead(() => {
        throw boom
      }),
    ).rejects.toBe(boom)
    expect(e.isLeader()).toBe(false)
    expect(await a.inspect('coord')).toEqual({ held: false })
    await close()
  })

  it('lead() stops campaigning when its signal aborts, and resolves', async () => {
    const { lockers, close } = setup(2)
    const [a, b] = lockers as [Locker, Locker]
    const holder = await a.acquire('coord')
    const stop = new AbortController()
    let ran = false
    const leading = b.election('coord').lead(
      () => {
        ran = true
      },
      { signal: stop.signal },
    )
    expect(await pending(leading)).toBe(true)
    stop.abort()
    await leading
    expect(ran).toBe(false)
    await holder.release()
    expect(await b.inspect('coord')).toEqual({ held: false })
    await close()
  })

  it('resign() while lead() runs fn aborts fn’s signal, and lead() resolves without campaigning again', async () => {
    const { lockers, close } = setup(1)
    const [a] = lockers as [Locker]
    const e = a.election('coord')
    let reason: unknown
    let runs = 0
    const leading = e.lead(
      async (_leadership, signal) => {
        runs++
        void e.resign()
        await aborted(signal)
        reason = signal.reason
      },
      { recampaign: true },
    )
    await leading
    expect(runs).toBe(1)
    expect(isLockError(reason, 'LOCK_ABORTED')).toBe(true)
    expect(e.isLeader()).toBe(false)
    expect(await a.inspect('coord')).toEqual({ held: false })
    await close()
  })

  it('campaign() rejects, never throws, for bad options and on a closed Locker', async () => {
    const locker = new Locker(new MemoryDriver())
    const e = locker.election('coord')
    const bad = (() => {
      try {
        return e.campaign({ waitMs: -1 })
      } catch (err) {
        return `threw ${String(err)}`
      }
    })()
    expect(bad).toBeInstanceOf(Promise)
    await expect(bad).rejects.toThrow(RangeError)
    await locker.close()
    await expect(e.campaign()).rejects.toSatisfy((err) => isLockError(err, 'LOCK_CLOSED'))
  })

  it('leader() is null while readers hold the election key shared', async () => {
    const { lockers, close } = setup(2)
    const [a, b] = lockers as [Locker, Locker]
    const reader = await a.acquire('coord', { mode: 'shared' })
    const e = b.election('coord')
    expect(await e.leader()).toBeNull()
    expect(await pending(e.campaign())).toBe(true)
    await reader.release()
    await e.campaign()
    expect((await e.leader())?.value).toBe(e.value)
    await e.resign()
    await close()
  })

  it('validates value, ttlMs, options and fn', async () => {
    await using locker = new Locker(new MemoryDriver())
    expect(() => locker.election('e', { value: 'x'.repeat(1025) })).toThrow(RangeError)
    expect(() => locker.election('e', { value: 'é'.repeat(513) })).toThrow(RangeError)
    expect(locker.election('e', { value: 'é'.repeat(512) }).value).toHaveLength(512)
    expect(() => locker.election('e', { value: 42 as never })).toThrow(TypeError)
    expect(() => locker.election('e', { value: '\uD800' })).toThrow(TypeError)
    expect(() => locker.election('e', { ttlMs: 0 })).toThrow(RangeError)
    expect(() => locker.election('e', null as never)).toThrow(TypeError)
    expect(() => locker.election('', {})).toThrow(RangeError)
    await expect(locker.election('e').lead(null as never)).rejects.toThrow(TypeError)
    await expect(locker.elect('e', () => 1, { value: 1 as never })).rejects.toThrow(TypeError)
    await expect(locker.election('e').campaign(null as never)).rejects.toThrow(TypeError)
  })
})
