import { isLockError } from '../../errors.js'
import type { ConformanceCheck } from '../check.js'
import { describeError, ensure, expectLockError, rejectionOf } from '../conformance-failure.js'
import { median, settleTimed } from '../wait-for.js'
import { expectFreeWithin, recordingLocker, untilWaiting } from './support.js'

const SAMPLES = 3
const PUSH_SAMPLES = 5

/** waitMs deadlines (L3), one-attempt acquires, handoff to waiters, push latency (L4). */
export const waitingChecks: readonly ConformanceCheck[] = [
  {
    group: 'waiting',
    id: 'L3',
    name: `L3: acquire gives up with LockTimeoutError within 100 ms of waitMs (median of ${SAMPLES})`,
    async run(ctx) {
      const [a, b] = await ctx.lockers(2)
      const key = ctx.key()
      const held = await a.acquire(key, { waitMs: ctx.timing.slackMs })
      const waitMs = ctx.timing.timeoutWaitMs
      const lateMs: number[] = []
      for (let i = 0; i < SAMPLES; i++) {
        const startMs = performance.now()
        await expectLockError(
          b.acquire(key, { waitMs }),
          'LOCK_TIMEOUT',
          `acquire with waitMs ${waitMs} of a held key`,
        )
        const tookMs = performance.now() - startMs
        ensure(
          tookMs >= waitMs - 5,
          `acquire gave up after ${Math.round(tookMs)} ms, before waitMs ${waitMs}`,
        )
        lateMs.push(tookMs - waitMs)
      }
      const late = median(lateMs)
      const bound = ctx.timing.deadlineToleranceMs
      ensure(
        late <= bound,
        `acquire timed out a median ${Math.round(late)} ms after waitMs (bound ${bound} ms; samples ${lateMs.map(Math.round).join(', ')})`,
      )
      await held.release()
    },
  },
  {
    group: 'waiting',
    id: 'L3b',
    name: 'L3: waitMs 0 makes one attempt and fails fast with LockTimeoutError',
    async run(ctx) {
      const [a, b] = await ctx.lockers(2)
      const key = ctx.key()
      const held = await a.acquire(key, { waitMs: ctx.timing.slackMs })
      const startMs = performance.now()
      const err = await rejectionOf(
        b.acquire(key, { waitMs: 0 }),
        'acquire with waitMs 0 of a held key',
      )
      const tookMs = performance.now() - startMs
      ensure(
        isLockError(err, 'LOCK_TIMEOUT'),
        () => `expected LOCK_TIMEOUT, got ${describeError(err)}`,
      )
      const bound = ctx.timing.deadlineToleranceMs + ctx.timing.opTimeoutMs
      ensure(tookMs <= bound, `waitMs 0 took ${Math.round(tookMs)} ms (bound ${bound} ms)`)
      await held.release()
    },
  },
  {
    group: 'waiting',
    id: 'S4',
    name: 'S4: a timed-out acquire leaves nothing held: once the holder releases, a third driver gets the key',
    async run(ctx) {
      const [a, b, c] = await ctx.lockers(3)
      const key = ctx.key()
      const held = await a.acquire(key, { waitMs: ctx.timing.slackMs })
      await expectLockError(
        b.acquire(key, { waitMs: ctx.timing.timeoutWaitMs }),
        'LOCK_TIMEOUT',
        'the waiter',
      )
      await held.release()
      const third = await expectFreeWithin(
        c,
        key,
        ctx.timing.slackMs,
        'a third driver to get the key after the timed-out waiter (phantom grant?)',
      )
      await third.release()
    },
  },
  {
    group: 'waiting',
    id: 'W1',
    name: 'a waiter on another driver is granted the key soon after the release (within the polling bound)',
    async run(ctx) {
      const [a, b] = await ctx.lockers(2)
      const key = ctx.key()
      const held = await a.acquire(key, { waitMs: ctx.timing.slackMs })
      const waiting = settleTimed(b.acquire(key, { waitMs: 10 * ctx.timing.pollHandoffMs }))
      const releasedAtMs = performance.now()
      await held.release()
      const outcome = await waiting
      ensure(outcome.ok, () => `the waiter failed: ${describeError(!outcome.ok && outcome.error)}`)
      const handoffMs = outcome.atMs - releasedAtMs
      const bound = ctx.timing.pollHandoffMs + ctx.timing.slackMs
      ensure(
        handoffMs <= bound,
        `the waiter got the key ${Math.round(handoffMs)} ms after the release (bound ${bound} ms)`,
      )
      await outcome.value.release()
    },
  },
  {
    group: 'waiting',
    id: 'L4',
    name: `L4: a waiter learns of a release by push: median handoff under 50 ms (${PUSH_SAMPLES} samples)`,
    skip: (env) =>
      env.capabilities.nativeWait
        ? undefined
        : 'capabilities.nativeWait is false (the driver polls; no push latency promised)',
    async run(ctx) {
      const a = await ctx.locker()
      const { locker: b, events } = await recordingLocker(ctx)
      const key = ctx.key()
      const samples: number[] = []
      for (let i = 0; i < PUSH_SAMPLES; i++) {
        const held = await a.acquire(key, { waitMs: ctx.timing.pollHandoffMs })
        events.length = 0
        const waiting = settleTimed(b.acquire(key, { waitMs: 10 * ctx.timing.pollHandoffMs }))
        await untilWaiting(ctx, events, key)
        const releasedAtMs = performance.now()
        await held.release()
        const outcome = await waiting
        ensure(
          outcome.ok,
          () => `sample ${i}: the waiter failed: ${describeError(!outcome.ok && outcome.error)}`,
        )
        samples.push(outcome.atMs - releasedAtMs)
        await outcome.value.release()
      }
      const m = median(samples)
      ensure(
        m < ctx.timing.pushLatencyMs,
        `median handoff ${m.toFixed(1)} ms is not under ${ctx.timing.pushLatencyMs} ms (samples ${samples.map((s) => s.toFixed(1)).join(', ')}): looks like a polling floor`,
      )
    },
  },
  {
    group: 'waiting',
    id: 'W2',
    name: 'fair: waiters on three drivers are granted in arrival order',
    skip: (env) =>
      env.capabilities.fair ? undefined : 'capabilities.fair is false (no arrival-order promise)',
    async run(ctx) {
      const a = await ctx.locker()
      const key = ctx.key()
      const held = await a.acquire(key, { waitMs: ctx.timing.slackMs })
      const order: number[] = []
      const pending: Array<Promise<void>> = []
      for (let i = 0; i < 3; i++) {
        const { locker, events } = await recordingLocker(ctx)
        const turn = locker
          .acquire(key, { waitMs: 10 * ctx.timing.pollHandoffMs })
          .then(async (h) => {
            order.push(i)
            await h.release()
          })
        pending.push(turn)
        await untilWaiting(ctx, events, key)
      }
      await held.release()
      await Promise.all(pending)
      ensure(
        order.join(',') === '0,1,2',
        `waiters that arrived as 0,1,2 were granted as ${order.join(',')}`,
      )
    },
  },
]
