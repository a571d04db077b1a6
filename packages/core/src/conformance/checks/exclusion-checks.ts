import { isLockError } from '../../errors.js'
import type { LockHandle } from '../../lock-handle.js'
import type { ConformanceCheck } from '../check.js'
import { ensure, expectLockError } from '../conformance-failure.js'
import { settleTimed } from '../wait-for.js'
import { expectHeld } from './support.js'

/** S1 across drivers. Every check uses two or more drivers from the factory, never one shared client. */
export const exclusionChecks: readonly ConformanceCheck[] = [
  {
    group: 'exclusion',
    id: 'X1',
    name: 'createDriver() returns a fresh driver on every call (the kit needs independent connections)',
    async run(ctx) {
      const [a, b] = await ctx.drivers(2)
      ensure(
        a !== b,
        'createDriver() returned the same driver twice: exclusion checks would test one session against itself',
      )
      ensure(typeof a.name === 'string' && a.name !== '', 'driver.name is not a non-empty string')
      ensure(
        a.capabilities === b.capabilities ||
          JSON.stringify(a.capabilities) === JSON.stringify(b.capabilities),
        'two drivers from the factory declare different capabilities',
      )
    },
  },
  {
    group: 'exclusion',
    id: 'S1',
    name: 'S1: a key held through one driver is not granted through another (tryAcquire and a timed acquire)',
    async run(ctx) {
      const [a, b] = await ctx.lockers(2)
      const key = ctx.key()
      const held = await a.acquire(key, { waitMs: ctx.timing.slackMs })
      await expectHeld(ctx, b, key, 'while held by the first driver')
      await expectLockError(
        b.acquire(key, { waitMs: ctx.timing.timeoutWaitMs }),
        'LOCK_TIMEOUT',
        "a second driver's acquire of a held key",
      )
      ensure(held.isValid(), 'the holder lost validity while another driver tried the key')
      await held.release()
    },
  },
  {
    group: 'exclusion',
    id: 'S1b',
    name: 'S1: of four drivers racing tryAcquire on one free key, exactly one wins',
    async run(ctx) {
      const lockers = await ctx.lockers(4)
      let timedOutRounds = 0
      for (let round = 0; round < 5; round++) {
        const key = ctx.key(`race${round}`)
        const results = await Promise.allSettled(lockers.map((l) => l.tryAcquire(key)))
        const winners: LockHandle[] = []
        let timedOut = 0
        for (const r of results) {
          if (r.status === 'fulfilled') {
            if (r.value !== null) winners.push(r.value)
          } else if (isLockError(r.reason, 'LOCK_TIMEOUT')) timedOut++
          else throw r.reason
        }
        await Promise.all(winners.map((h) => h.release()))
        ensure(
          winners.length <= 1,
          `round ${round}: ${winners.length} of 4 racing drivers got the key at once`,
        )
        // None won: only acceptable when an attempt ran out of time (core's one-attempt deadline); ask again.
        if (winners.length === 0) {
          ensure(timedOut > 0, `round ${round}: none of 4 racing drivers got a free key`)
          ensure(
            ++timedOutRounds <= 3,
            'racing tryAcquires kept timing out (round trips over the one-attempt deadline)',
          )
          round--
        }
      }
    },
  },
  {
    group: 'exclusion',
    id: 'S1c',
    name: "S1: of four drivers racing a waiting acquire on one key, each is granted only after the previous holder's release",
    async run(ctx) {
      const lockers = await ctx.lockers(4)
      const key = ctx.key()
      const spans: Array<{ startMs: number; endMs: number; fence: bigint }> = []
      const waitMs = 10 * ctx.timing.pollHandoffMs
      await Promise.all(
        lockers.map(async (locker) => {
          const handle = await locker.acquire(key, { waitMs, ttlMs: ctx.timing.longTtlMs })
          const startMs = performance.now()
          // Hold across a few event-loop turns so that an overlapping grant would show.
          await new Promise((resolve) => setTimeout(resolve, 5))
          const endMs = performance.now()
          spans.push({ startMs, endMs, fence: handle.fence })
          await handle.release()
        }),
      )
      spans.sort((x, y) => x.startMs - y.startMs)
      for (let i = 1; i < spans.length; i++) {
        const prev = spans[i - 1] as (typeof spans)[number]
        const cur = spans[i] as (typeof spans)[number]
        ensure(
          cur.startMs >= prev.endMs,
          `holder with fence ${cur.fence} was granted ${Math.round(prev.endMs - cur.startMs)} ms before holder ${prev.fence} released`,
        )
      }
    },
  },
  {
    group: 'exclusion',
    id: 'S1d',
    name: 'S1: a waiter on another driver is granted only after the holder releases',
    async run(ctx) {
      const [a, b] = await ctx.lockers(2)
      const key = ctx.key()
      const held = await a.acquire(key, { waitMs: ctx.timing.slackMs })
      const waiting = settleTimed(b.acquire(key, { waitMs: 10 * ctx.timing.pollHandoffMs }))
      const early = await Promise.race([
        waiting,
        new Promise((r) => setTimeout(r, ctx.timing.timeoutWaitMs, null)),
      ])
      ensure(early === null, 'the waiter settled while the key was still held')
      const releasedAtMs = performance.now()
      await held.release()
      const outcome = await waiting
      ensure(
        outcome.ok,
        () => `the waiter failed after the release: ${String(!outcome.ok && outcome.error)}`,
      )
      ensure(outcome.atMs >= releasedAtMs, 'the waiter was granted before the holder released')
      await outcome.value.release()
    },
  },
]
