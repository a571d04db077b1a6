import type { DriverLease } from '../../driver.js'
import type { ConformanceCheck } from '../check.js'
import { ensure, expectLockError } from '../conformance-failure.js'
import { waitFor } from '../wait-for.js'
import { tryOnce } from './support.js'

/** Background renewal and extend(): a renewed lock outlives its TTL and nobody else gets it. */
export const renewalChecks: readonly ConformanceCheck[] = [
  {
    group: 'renewal',
    id: 'RN1',
    name: 'a renewing holder keeps the key across 3x its TTL and a contender on another driver cannot get it',
    timeoutMs: (t) => 10_000 + 6 * t.renewTtlMs,
    async run(ctx) {
      const [a, b] = await ctx.lockers(2)
      const key = ctx.key()
      const ttlMs = ctx.timing.renewTtlMs
      const handle = await a.acquire(key, { ttlMs, waitMs: ctx.timing.slackMs })
      const lapses: string[] = []
      const sampler = setInterval(() => {
        if (!handle.isValid() || handle.signal.aborted)
          lapses.push(`${handle.state} at ${Math.round(performance.now())}`)
      }, 10)
      try {
        await expectLockError(
          b.acquire(key, { waitMs: 3 * ttlMs }),
          'LOCK_TIMEOUT',
          "a contender's acquire across 3x the TTL",
        )
      } finally {
        clearInterval(sampler)
      }
      ensure(
        lapses.length === 0,
        `the renewing holder was not valid at times: ${lapses.slice(0, 3).join(', ')}`,
      )
      ensure(
        handle.isValid() && handle.state === 'held',
        `after 3x the TTL the holder is ${handle.state}`,
      )
      await handle.release()
      const next = await tryOnce(b, key)
      ensure(next !== null, 'the key is still held after the renewing holder released')
      ensure(next.fence > handle.fence, `fence ${next.fence} is not above ${handle.fence}`)
      await next.release()
    },
  },
  {
    group: 'renewal',
    id: 'RN2',
    name: 'extend() confirms ownership and moves validity forward',
    async run(ctx) {
      const a = await ctx.locker({ renew: false })
      const b = await ctx.locker()
      const key = ctx.key()
      // Not renewed: a poll that comes more than half a TTL late finds the lease already run
      // out. The slack on top keeps that a stall of the loaded machine (600 ms, not 300 ms
      // on Redis), not a normal poll.
      const ttlMs = ctx.timing.renewTtlMs + 2 * ctx.timing.slackMs
      const handle = await a.acquire(key, { ttlMs, waitMs: ctx.timing.slackMs })
      await waitFor(() => handle.validForMs() < ttlMs / 2, {
        timeoutMs: ttlMs,
        message: 'validity to fall under half the TTL',
      })
      await handle.extend()
      const afterMs = handle.validForMs()
      ensure(
        afterMs > ttlMs * 0.6,
        `validForMs() is ${Math.round(afterMs)} right after extend() (ttlMs ${ttlMs})`,
      )
      await waitFor(() => handle.validForMs() < ttlMs / 2, {
        timeoutMs: ttlMs,
        message: 'validity to fall under half the TTL again',
      })
      await handle.extend(2 * ttlMs)
      const longer = handle.validForMs()
      ensure(
        longer > ttlMs * 1.2,
        `validForMs() is ${Math.round(longer)} after extend(${2 * ttlMs})`,
      )
      ensure(handle.isValid(), 'the handle is not valid after extend()')
      const intruder = await tryOnce(b, key)
      ensure(intruder === null, 'another driver got the key after extend()')
      await handle.release()
    },
  },
  {
    group: 'renewal',
    id: 'S2d',
    name: 'S2: renewMany returns one result per lease, in order: a lease released in the middle says { ok: false }',
    skip: (env) =>
      env.driverHasRenewMany ? undefined : 'the driver has no renewMany (core renews one by one)',
    async run(ctx) {
      const driver = await ctx.driver()
      if (driver.renewMany === undefined) return ctx.skip('the driver has no renewMany')
      const ttlMs = ctx.timing.longTtlMs
      const leases = []
      for (const label of ['one', 'two', 'three']) {
        const lease = await ctx.rawAcquire(driver, ctx.nsKey(ctx.key(label)), { ttlMs, waitMs: 0 })
        ensure(lease !== null, 'driver.acquire of a free key returned null')
        leases.push(lease)
      }
      const [one, two, three] = leases as [DriverLease, DriverLease, DriverLease]
      ensure(await driver.release(two), 'driver.release of a held lease returned false')
      const results = await driver.renewMany([one, two, three], ttlMs)
      const shown = JSON.stringify(results)
      ensure(
        results.length === 3,
        `renewMany of 3 leases returned ${results.length} results: ${shown}`,
      )
      ensure(
        results[0]?.ok === true && results[2]?.ok === true,
        `renewMany did not confirm the held leases: ${shown}`,
      )
      ensure(results[1]?.ok === false, `renewMany confirmed a released lease: ${shown}`)
    },
  },
]
