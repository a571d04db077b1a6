import type { ConformanceCheck } from '../check.js'
import { ensure, expectLockError } from '../conformance-failure.js'
import { settleTimed } from '../wait-for.js'
import { tryOnce } from './support.js'

/**
 * S5: a second acquire of a held key in the same process waits as if it came from another
 * machine, on the same Locker and across Lockers sharing one driver (one session, where
 * PostgreSQL and MySQL would re-enter).
 */
export const reentrancyChecks: readonly ConformanceCheck[] = [
  {
    group: 'non-reentrancy',
    id: 'S5',
    name: 'S5: the same Locker does not re-enter a key it holds (tryAcquire null, acquire times out)',
    async run(ctx) {
      const locker = await ctx.locker()
      const key = ctx.key()
      const held = await locker.acquire(key, { waitMs: ctx.timing.slackMs })
      const again = await tryOnce(locker, key)
      ensure(
        again === null,
        `a second tryAcquire on the same Locker re-entered (fence ${again?.fence})`,
      )
      await expectLockError(
        locker.acquire(key, { waitMs: ctx.timing.timeoutWaitMs }),
        'LOCK_TIMEOUT',
        'a second acquire of a held key on the same Locker',
      )
      ensure(held.isValid(), 'the holder lost validity after a refused re-entry')
      await held.release()
    },
  },
  {
    group: 'non-reentrancy',
    id: 'S5b',
    name: 'S5: a same-Locker waiter gets the key only after the release, with a greater fence',
    async run(ctx) {
      const locker = await ctx.locker()
      const key = ctx.key()
      const held = await locker.acquire(key, { waitMs: ctx.timing.slackMs })
      const waiting = settleTimed(locker.acquire(key, { waitMs: 10 * ctx.timing.pollHandoffMs }))
      const early = await Promise.race([
        waiting,
        new Promise((r) => setTimeout(r, ctx.timing.timeoutWaitMs, null)),
      ])
      ensure(early === null, 'a same-Locker waiter settled while the key was held')
      const releasedAtMs = performance.now()
      await held.release()
      const outcome = await waiting
      ensure(outcome.ok, 'the same-Locker waiter failed after the release')
      ensure(outcome.atMs >= releasedAtMs, 'the same-Locker waiter was granted before the release')
      ensure(
        outcome.value.fence > held.fence,
        `fence ${outcome.value.fence} is not above ${held.fence}`,
      )
      await outcome.value.release()
    },
  },
  {
    group: 'non-reentrancy',
    id: 'S5c',
    name: 'S5: two Lockers on one driver exclude each other as if they were separate machines',
    async run(ctx) {
      const driver = await ctx.driver()
      const a = await ctx.locker({}, driver)
      const b = await ctx.locker({}, driver)
      const key = ctx.key()
      const held = await a.acquire(key, { waitMs: ctx.timing.slackMs })
      const again = await tryOnce(b, key)
      ensure(
        again === null,
        `a second Locker on the same driver re-entered the key (fence ${again?.fence})`,
      )
      await expectLockError(
        b.acquire(key, { waitMs: ctx.timing.timeoutWaitMs }),
        'LOCK_TIMEOUT',
        "a second Locker's acquire of a key held on the same driver",
      )
      const waiting = settleTimed(b.acquire(key, { waitMs: 10 * ctx.timing.pollHandoffMs }))
      const releasedAtMs = performance.now()
      await held.release()
      const outcome = await waiting
      ensure(outcome.ok, "the second Locker's waiter failed after the release")
      ensure(
        outcome.atMs >= releasedAtMs,
        "the second Locker's waiter was granted before the release",
      )
      ensure(
        outcome.value.fence > held.fence,
        `fence ${outcome.value.fence} is not above ${held.fence}`,
      )
      await outcome.value.release()
    },
  },
]
