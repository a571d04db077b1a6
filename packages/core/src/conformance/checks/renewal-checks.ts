import type { ConformanceCheck } from '../check.js'
import { ensure, expectLockError } from '../conformance-failure.js'
import { waitFor } from '../wait-for.js'

/** Background renewal and extend(): a renewed lock outlives its TTL and nobody else gets it. */
export const renewalChecks: readonly ConformanceCheck[] = [
  {
    group: 'renewal',
    name: 'a renewing holder keeps the key across 3x its TTL and a contender on another driver cannot get it',
    timeoutMs: (t) => 10_000 + 6 * t.renewTtlMs,
    async run(ctx) {
      const [a, b] = await ctx.lockers(2)
      const key = ctx.key()
      const ttlMs = ctx.timing.renewTtlMs
      const handle = await a.acquire(key, { ttlMs, waitMs: 0 })
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
      const next = await b.tryAcquire(key)
      ensure(next !== null, 'the key is still held after the renewing holder released')
      ensure(next.fence > handle.fence, `fence ${next.fence} is not above ${handle.fence}`)
      await next.release()
    },
  },
  {
    group: 'renewal',
    name: 'extend() confirms ownership and moves validity forward',
    async run(ctx) {
      const a = await ctx.locker({ renew: false })
      const b = await ctx.locker()
      const key = ctx.key()
      const ttlMs = ctx.timing.renewTtlMs
      const handle = await a.acquire(key, { ttlMs, waitMs: 0 })
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
      const intruder = await b.tryAcquire(key)
      ensure(intruder === null, 'another driver got the key after extend()')
      await handle.release()
    },
  },
]
