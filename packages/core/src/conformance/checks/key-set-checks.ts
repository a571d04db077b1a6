import type { ConformanceCheck } from '../check.js'
import { describeError, ensure, expectLockError } from '../conformance-failure.js'
import { expectHeld, tryOnce } from './support.js'

const OVERLAP_ROUNDS = 5

/** A1 over `acquireAll`; runs on every driver (it is built on ordinary acquires). */
export const keySetChecks: readonly ConformanceCheck[] = [
  {
    group: 'key sets',
    id: 'A1',
    name: 'A1: acquireAll is all or nothing: with one key held elsewhere it times out holding none of the set, then takes every key once that key is free',
    async run(ctx) {
      const [a, b, c] = await ctx.lockers(3, { ttlMs: ctx.timing.longTtlMs })
      const keys = [ctx.key('x'), ctx.key('y'), ctx.key('z')]
      const [k1, k2, k3] = keys as [string, string, string]
      const blocker = await b.acquire(k2, { waitMs: ctx.timing.slackMs })
      await expectLockError(
        a.acquireAll([k3, k2, k1], { waitMs: ctx.timing.timeoutWaitMs }),
        'LOCK_TIMEOUT',
        'acquireAll of a set with one key held elsewhere',
      )
      for (const key of [k1, k3]) {
        const free = await tryOnce(c, key)
        ensure(free !== null, `A1: ${key} stayed held after acquireAll failed`)
        await free.release()
      }
      await blocker.release()
      const set = await a.acquireAll([k3, k1, k2], {
        waitMs: ctx.timing.pollHandoffMs + ctx.timing.slackMs,
      })
      ensure(set.locks.length === 3, `the set has ${set.locks.length} locks for 3 keys`)
      ensure(set.isValid(), 'a fresh set is not valid')
      for (const key of keys) {
        ensure(set.get(key)?.key === key, `set.get(${key}) does not return that key's lock`)
        await expectHeld(ctx, c, key, `while the set holds ${key}`)
      }
      await set.release()
      ensure(!set.isValid(), 'the set is valid after release()')
      for (const key of keys) {
        const free = await tryOnce(c, key)
        ensure(free !== null, `${key} stayed held after the set's release()`)
        await free.release()
      }
    },
  },
  {
    group: 'key sets',
    id: 'A1b',
    name: `A1: two Lockers taking overlapping key sets given in opposite orders, ${OVERLAP_ROUNDS} rounds each at once, all finish (no deadlock)`,
    timeoutMs: (t) => 20_000 + 2 * OVERLAP_ROUNDS * 3 * (t.pollHandoffMs + t.slackMs),
    async run(ctx) {
      const [a, b] = await ctx.lockers(2, { ttlMs: ctx.timing.longTtlMs })
      const keys = [ctx.key('p'), ctx.key('q'), ctx.key('r'), ctx.key('s')]
      const forward = keys.slice(0, 3)
      const backward = [...keys].reverse().slice(0, 3)
      const waitMs = 2 * OVERLAP_ROUNDS * 3 * (ctx.timing.pollHandoffMs + ctx.timing.slackMs)
      let inside = 0
      const run = async (locker: typeof a, set: string[]) => {
        for (let round = 0; round < OVERLAP_ROUNDS; round++) {
          await locker.withAll(
            set,
            async (locks) => {
              inside++
              ensure(inside === 1, 'two overlapping sets were held at once')
              ensure(locks.isValid(), 'a set is not valid inside withAll')
              await new Promise((resolve) => setTimeout(resolve, 2))
              inside--
            },
            { waitMs },
          )
        }
      }
      const results = await Promise.allSettled([run(a, forward), run(b, backward)])
      for (const r of results) {
        if (r.status === 'rejected') {
          throw new Error(
            `A1: an overlapping acquireAll did not finish: ${describeError(r.reason)}`,
          )
        }
      }
    },
  },
]
