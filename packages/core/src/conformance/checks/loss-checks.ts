import { isLockError } from '../../errors.js'
import type { ConformanceCheck } from '../check.js'
import type { CheckContext } from '../check-context.js'
import {
  ConformanceFailure,
  describeError,
  ensure,
  expectLockError,
  expectLockErrorSync,
} from '../conformance-failure.js'
import type { DroppableLock } from '../options.js'
import { waitFor } from '../wait-for.js'
import { tryOnce } from './support.js'

function dropLockOf(ctx: CheckContext): (lock: DroppableLock) => Promise<void> {
  const dropLock = ctx.env.options.faults?.dropLock
  if (dropLock === undefined) return ctx.skip('no faults.dropLock given')
  return dropLock
}

/** N2/N3 bound: one renewal interval (a third of the TTL) plus one operation, plus slack. */
function lossBoundMs(ctx: CheckContext): number {
  return ctx.timing.lossTtlMs / 3 + ctx.timing.opTimeoutMs + ctx.timing.slackMs
}

/** Loss signalling, with the backend made to drop a held lock through `faults.dropLock`. */
export const lossChecks: readonly ConformanceCheck[] = [
  {
    group: 'loss',
    id: 'N2-N3',
    name: "N2/N3: after the backend drops the lock, the holder's signal aborts within one renewal interval plus an operation timeout",
    timeoutMs: (t) => 10_000 + t.lossTtlMs + t.opTimeoutMs,
    async run(ctx) {
      const dropLock = dropLockOf(ctx)
      const [a, b] = await ctx.lockers(2)
      const key = ctx.key()
      const handle = await a.acquire(key, {
        ttlMs: ctx.timing.lossTtlMs,
        waitMs: ctx.timing.slackMs,
      })
      const droppedAtMs = performance.now()
      await dropLock({ key: ctx.nsKey(key), owner: handle.owner, fence: handle.fence })
      const bound = lossBoundMs(ctx)
      await waitFor(() => handle.signal.aborted, {
        timeoutMs: bound,
        message: `the holder's signal to abort after dropLock (bound ${Math.round(bound)} ms)`,
      })
      const tookMs = performance.now() - droppedAtMs
      ensure(
        isLockError(handle.signal.reason, 'LOCK_LOST'),
        () => `signal.reason is ${describeError(handle.signal.reason)}, expected a LockLostError`,
      )
      ensure(handle.state === 'lost', `state is ${handle.state} after loss`)
      ensure(
        tookMs <= bound,
        `the signal aborted ${Math.round(tookMs)} ms after the drop (bound ${Math.round(bound)} ms)`,
      )
      // Liveness, not safety: a session backend frees the key when the server has finished
      // ending the killed session, which on a loaded server can trail the client's loss
      // signal by a few ms, so the next driver waits (bounded) instead of trying once.
      const next = await b.acquire(key, { waitMs: ctx.timing.slackMs }).catch((err: unknown) => {
        throw new ConformanceFailure(
          `another driver could not get the dropped key within ${ctx.timing.slackMs} ms: ${describeError(err)}`,
        )
      })
      ensure(
        next.fence > handle.fence,
        `S3: fence ${next.fence} after the drop is not above ${handle.fence}`,
      )
      await next.release()
    },
  },
  {
    group: 'loss',
    id: 'S6',
    name: 'S6: a lost handle never becomes valid again: isValid() stays false, extend() throws LockLostError, release() does not throw',
    timeoutMs: (t) => 10_000 + 2 * t.lossTtlMs + t.opTimeoutMs,
    async run(ctx) {
      const dropLock = dropLockOf(ctx)
      const [a, b] = await ctx.lockers(2)
      const key = ctx.key()
      const handle = await a.acquire(key, {
        ttlMs: ctx.timing.lossTtlMs,
        waitMs: ctx.timing.slackMs,
      })
      await dropLock({ key: ctx.nsKey(key), owner: handle.owner, fence: handle.fence })
      await waitFor(() => !handle.isValid(), {
        timeoutMs: lossBoundMs(ctx),
        message: 'isValid() to turn false after dropLock',
      })
      // Someone else takes the key; the lost handle must not come back across a renewal tick.
      const next = await waitFor(() => tryOnce(b, key), {
        timeoutMs: ctx.timing.slackMs,
        message: 'another driver to get the dropped key',
      })
      const untilMs = performance.now() + ctx.timing.lossTtlMs / 3 + ctx.timing.slackMs
      while (performance.now() < untilMs) {
        ensure(!handle.isValid(), 'S6: the lost handle reported isValid() true again')
        ensure(handle.state === 'lost', `S6: the lost handle's state went back to ${handle.state}`)
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
      expectLockErrorSync(() => handle.assertValid(), 'LOCK_LOST', 'assertValid() of a lost handle')
      await expectLockError(handle.extend(), 'LOCK_LOST', 'extend() of a lost handle')
      ensure(!handle.isValid(), 'S6: the lost handle is valid again after extend()')
      await handle.release()
      ensure(
        next.isValid() && !next.signal.aborted,
        "the lost handle's extend()/release() broke the new holder",
      )
      const intruder = await tryOnce(a, key)
      ensure(
        intruder === null,
        "the new holder's key was granted again after the lost handle's release()",
      )
      await next.release()
    },
  },
  {
    group: 'loss',
    id: 'N2',
    name: 'N2: a driver declaring lossSignal aborts lease.lost on evidence of loss (at the latest after a renew that finds it gone)',
    skip: (env) =>
      env.capabilities.lossSignal
        ? undefined
        : 'capabilities.lossSignal is false (core learns of loss by failed renewals only)',
    async run(ctx) {
      const dropLock = dropLockOf(ctx)
      const driver = await ctx.driver()
      const key = ctx.nsKey(ctx.key())
      const lease = await ctx.rawAcquire(driver, key, { ttlMs: ctx.timing.lossTtlMs, waitMs: 0 })
      ensure(lease !== null, 'driver.acquire of a free key returned null')
      ensure(!lease.lost.aborted, 'lease.lost is aborted on a fresh lease')
      await dropLock({ key, owner: lease.owner, fence: lease.fence })
      const pushed = await waitFor(() => lease.lost.aborted, {
        timeoutMs: ctx.timing.slackMs,
        message: 'lease.lost',
      }).catch(() => false)
      if (!pushed) {
        const renewed = await driver.renew(lease, ctx.timing.lossTtlMs)
        ensure(!renewed.ok, 'driver.renew of a dropped lease returned { ok: true }')
        await waitFor(() => lease.lost.aborted, {
          timeoutMs: ctx.timing.slackMs,
          message:
            'lease.lost to abort after dropLock and a renew that returned { ok: false } (the driver declares lossSignal)',
        })
      }
      ensure(lease.lost.reason !== undefined, 'lease.lost aborted without a reason')
    },
  },
]
