import type { ConformanceCheck } from '../check.js'
import { ensure, expectLockError } from '../conformance-failure.js'
import { settleTimed } from '../wait-for.js'
import { expectFreeWithin, recordingLocker, tryOnce, untilWaiting } from './support.js'

/** Caller aborts: before the call and while waiting (L3); nothing held afterwards (S4). */
export const abortChecks: readonly ConformanceCheck[] = [
  {
    group: 'abort',
    id: 'AB1',
    name: 'abort before the call: acquire rejects with LockAbortedError and leaves the free key free (S4)',
    async run(ctx) {
      const [a, b] = await ctx.lockers(2)
      const key = ctx.key()
      const controller = new AbortController()
      const reason = new Error('caller gave up')
      controller.abort(reason)
      const err = await expectLockError(
        a.acquire(key, { signal: controller.signal, waitMs: ctx.timing.slackMs }),
        'LOCK_ABORTED',
        'acquire with an already-aborted signal',
      )
      ensure((err as Error).cause === reason, "LockAbortedError's cause is not the signal's reason")
      const other = await tryOnce(b, key)
      ensure(
        other !== null,
        'the key is held after an acquire that was aborted before the call (phantom lock)',
      )
      await other.release()
    },
  },
  {
    group: 'abort',
    id: 'L3c',
    name: 'L3: abort while waiting rejects with LockAbortedError within 100 ms',
    async run(ctx) {
      const a = await ctx.locker()
      const { locker: b, events } = await recordingLocker(ctx)
      const key = ctx.key()
      const held = await a.acquire(key, { waitMs: ctx.timing.slackMs })
      const controller = new AbortController()
      const waiting = settleTimed(
        b.acquire(key, { signal: controller.signal, waitMs: 10 * ctx.timing.pollHandoffMs }),
      )
      await untilWaiting(ctx, events, key)
      const reason = new Error('caller gave up')
      const abortedAtMs = performance.now()
      controller.abort(reason)
      const outcome = await waiting
      ensure(
        !outcome.ok,
        'the waiter was granted the key although it was aborted while the key was held',
      )
      await expectLockError(Promise.reject(outcome.error), 'LOCK_ABORTED', 'the aborted waiter')
      ensure(
        (outcome.error as Error).cause === reason,
        "LockAbortedError's cause is not the signal's reason",
      )
      const lateMs = outcome.atMs - abortedAtMs
      const bound = ctx.timing.deadlineToleranceMs
      ensure(
        lateMs <= bound,
        `the waiter settled ${Math.round(lateMs)} ms after the abort (bound ${bound} ms)`,
      )
      ensure(held.isValid(), 'the holder lost validity when a waiter aborted')
      await held.release()
    },
  },
  {
    group: 'abort',
    id: 'S4b',
    name: 'S4: an aborted waiter leaves no phantom lock: after the release a third driver gets the key',
    async run(ctx) {
      const [a, c] = await ctx.lockers(2)
      const { locker: b, events } = await recordingLocker(ctx)
      const key = ctx.key()
      for (let round = 0; round < 3; round++) {
        const held = await a.acquire(key, { waitMs: ctx.timing.slackMs })
        const controller = new AbortController()
        const waiting = settleTimed(
          b.acquire(key, { signal: controller.signal, waitMs: 10 * ctx.timing.pollHandoffMs }),
        )
        if (round > 0) await untilWaiting(ctx, events, key)
        controller.abort(new Error('caller gave up'))
        // Round 2 releases in the same turn as the abort: a late grant must be given back.
        const release = held.release()
        if (round < 2) await release
        const outcome = await waiting
        await release
        ensure(!outcome.ok, `round ${round}: an aborted waiter got the key`)
        const third = await expectFreeWithin(
          c,
          key,
          ctx.timing.pollHandoffMs + ctx.timing.slackMs,
          `round ${round}: a third driver to get the key after an aborted waiter (phantom lock?)`,
        )
        await third.release()
      }
    },
  },
]
