import { LockClosedError } from '@baton-lock/core'
import {
  DriverLifecycle,
  driverRequest,
  LeaseBook,
  pollForGrant,
  sleep,
} from '@baton-lock/core/driver'
import { describe, expect, it } from 'vitest'

const grant = { fence: 7n, ttlMs: 1_000, sentAtMs: 0 }

describe('LeaseBook', () => {
  it('finds a lease by owner and key only, and forgets it on release without aborting it', () => {
    const book = new LeaseBook<{ session: number }>()
    const req = driverRequest('k')
    const lease = book.grant(req, grant, { session: 1 })
    expect(lease).toMatchObject({ key: 'k', owner: req.owner, fence: 7n, ttlMs: 1_000 })
    expect(book.get(lease)?.data.session).toBe(1)
    expect(book.get({ ...lease, key: 'other' })).toBeUndefined()
    expect(book.forget(lease)?.data.session).toBe(1)
    expect(book.size).toBe(0)
    expect(lease.lost.aborted).toBe(false)
    expect(book.lose(lease, new Error('late'))).toBe(false)
    expect(lease.lost.aborted).toBe(false)
  })

  it('aborts lost with the reason, whether the signal was read before or after the loss', () => {
    const book = new LeaseBook()
    const early = book.grant(driverRequest('a'), grant, undefined)
    const late = book.grant(driverRequest('b'), grant, undefined)
    const earlySignal = early.lost
    const reason = new Error('server restarted')
    expect(book.loseAll(reason)).toBe(2)
    expect(earlySignal.aborted).toBe(true)
    expect(earlySignal.reason).toBe(reason)
    expect(late.lost.aborted).toBe(true)
    expect(late.lost.reason).toBe(reason)
    expect(book.size).toBe(0)
  })

  it('loses only the leases a predicate picks, and drains the rest', () => {
    const book = new LeaseBook<number>()
    const one = book.grant(driverRequest('a'), grant, 1)
    const two = book.grant(driverRequest('b'), grant, 2)
    expect(book.loseWhere((e) => e.data === 1, new Error('session 1 ended'))).toBe(1)
    expect(one.lost.aborted).toBe(true)
    expect(two.lost.aborted).toBe(false)
    expect(book.drain().map((e) => e.lease)).toEqual([two])
    expect(book.size).toBe(0)
  })
})

describe('DriverLifecycle', () => {
  it('closes once: aborts its signal, waits for tracked work, then shuts down', async () => {
    const life = new DriverLifecycle('test')
    const order: string[] = []
    life.track(sleep(20).then(() => order.push('work')))
    life.track(Promise.reject(new Error('ignored')))
    const first = life.close(async () => {
      order.push('shutdown')
    })
    expect(life.signal.aborted).toBe(true)
    expect(
      life.close(async () => {
        order.push('again')
      }),
    ).toBe(first)
    await first
    expect(order).toEqual(['work', 'shutdown'])
    expect(() => life.assertOpen()).toThrow(LockClosedError)
    expect(() => life.assertOpen()).toThrow(/test driver is closed/)
  })

  it('does not wait for tracked work past the grace period', async () => {
    const life = new DriverLifecycle('test')
    life.track(new Promise(() => {}))
    const started = performance.now()
    await life.close(async () => {}, 50)
    expect(performance.now() - started).toBeLessThan(2_000)
  })
})

describe('pollForGrant', () => {
  it('tries until granted, never sleeping past the holder TTL it reports', async () => {
    let tries = 0
    const pauses: number[] = []
    const lease = await pollForGrant({
      waitMs: 5_000,
      signal: new AbortController().signal,
      maxMs: 1_000,
      attempt: async () => (++tries < 4 ? { lease: null, holderTtlMs: 3 } : { lease: 'granted' }),
      pause: async (ms) => {
        pauses.push(ms)
      },
    })
    expect(lease).toBe('granted')
    expect(tries).toBe(4)
    expect(pauses).toHaveLength(3)
    for (const ms of pauses) expect(ms).toBeLessThanOrEqual(3)
  })

  it('makes one attempt for waitMs 0, and stops at once when aborted', async () => {
    let tries = 0
    const busy = async () => {
      tries++
      return { lease: null }
    }
    expect(
      await pollForGrant({ waitMs: 0, signal: new AbortController().signal, attempt: busy }),
    ).toBeNull()
    expect(tries).toBe(1)
    const stop = new AbortController()
    setTimeout(() => stop.abort(), 30)
    expect(
      await pollForGrant({ waitMs: Number.POSITIVE_INFINITY, signal: stop.signal, attempt: busy }),
    ).toBeNull()
    expect(stop.signal.aborted).toBe(true)
  })
})
