import { isLockError } from '../../errors.js'
import type { ConformanceCheck } from '../check.js'
import { describeError, ensure, expectLockErrorSync } from '../conformance-failure.js'
import { settleTimed, waitFor } from '../wait-for.js'

/**
 * Expiry of a holder that stops renewing. Lease backends free the key after `ttlMs` (L1);
 * on session backends a live session keeps its locks by design (DESIGN section 4), so only
 * the holder-side promises (N1, S7) apply there.
 */
export const expiryChecks: readonly ConformanceCheck[] = [
  {
    group: 'expiry',
    id: 'L1',
    name: 'L1: a holder that stops renewing loses the key to a contender within ttlMs plus slack, never before its validity ends (S1)',
    skip: (env) =>
      env.capabilities.expiry === 'session'
        ? "capabilities.expiry is 'session': a live session keeps its locks; L1 for a dead process or silent host is the fault suite's job"
        : undefined,
    async run(ctx) {
      const a = await ctx.locker({ renew: false })
      const b = await ctx.locker()
      const key = ctx.key()
      const ttlMs = ctx.timing.shortTtlMs
      const startMs = performance.now()
      const stale = await a.acquire(key, { ttlMs, waitMs: ctx.timing.slackMs })
      const bound = ttlMs + ctx.timing.slackMs
      const outcome = await settleTimed(
        b.acquire(key, { waitMs: bound + ctx.timing.slackMs, ttlMs: ctx.timing.longTtlMs }),
      )
      ensure(
        outcome.ok,
        () =>
          `the contender did not get the key of a silent holder: ${describeError(!outcome.ok && outcome.error)}`,
      )
      const staleStillValid = stale.isValid()
      const tookMs = outcome.atMs - startMs
      ensure(
        !staleStillValid,
        'S1: the contender was granted the key while the silent holder still reported isValid()',
      )
      ensure(
        tookMs <= bound,
        `the contender got the key ${Math.round(tookMs)} ms after the silent holder acquired (bound ttlMs ${ttlMs} + slack ${ctx.timing.slackMs})`,
      )
      ensure(
        outcome.value.fence > stale.fence,
        `S3: fence ${outcome.value.fence} after expiry is not above ${stale.fence}`,
      )
      await outcome.value.release()
    },
  },
  {
    group: 'expiry',
    id: 'N1',
    name: "N1: a non-renewing holder's signal aborts with LockLostError no later than its validity ends",
    async run(ctx) {
      const a = await ctx.locker({ renew: false })
      const key = ctx.key()
      const ttlMs = ctx.timing.shortTtlMs
      const startMs = performance.now()
      const handle = await a.acquire(key, { ttlMs, waitMs: ctx.timing.slackMs })
      let abortedAtMs = 0
      handle.signal.addEventListener('abort', () => {
        abortedAtMs = performance.now()
      })
      const bound = ttlMs + ctx.timing.deadlineToleranceMs
      await waitFor(() => handle.signal.aborted, {
        timeoutMs: bound + ctx.timing.slackMs,
        message: "the silent holder's signal to abort",
      })
      const lateMs = abortedAtMs - startMs
      ensure(
        lateMs <= bound,
        `the signal aborted ${Math.round(lateMs)} ms after acquire started (validity ends by ttlMs ${ttlMs}; bound ${bound} ms)`,
      )
      ensure(
        isLockError(handle.signal.reason, 'LOCK_LOST'),
        () => `signal.reason is ${describeError(handle.signal.reason)}, expected a LockLostError`,
      )
      ensure(
        handle.state === 'lost',
        `state is ${handle.state} after the signal aborted, expected lost`,
      )
      ensure(!handle.isValid(), 'isValid() is true after the signal aborted')
      expectLockErrorSync(
        () => handle.assertValid(),
        'LOCK_LOST',
        'assertValid() of an expired handle',
      )
      await handle.release()
    },
  },
  {
    group: 'expiry',
    id: 'S7',
    name: 'S7: isValid() is false from validUntil on, even if no timer ran',
    timeoutMs: (t) => 10_000 + 3 * t.shortTtlMs,
    async run(ctx) {
      const a = await ctx.locker({ renew: false })
      const key = ctx.key()
      const ttlMs = ctx.timing.shortTtlMs
      const handle = await a.acquire(key, { ttlMs, waitMs: ctx.timing.slackMs })
      const grantedAtMs = performance.now()
      ensure(handle.isValid(), 'a fresh handle is not valid')
      // Block the event loop past the lease so that no timer can run, then ask synchronously.
      while (performance.now() < grantedAtMs + ttlMs + 1) {
        // busy-wait on purpose
      }
      const valid = handle.isValid()
      const left = handle.validForMs()
      ensure(!valid, `isValid() is still true ${ttlMs} ms after the grant with no renewal`)
      ensure(left === 0, `validForMs() is ${left} after validity ended`)
      expectLockErrorSync(() => handle.assertValid(), 'LOCK_LOST', 'assertValid() past validUntil')
      await handle.release()
    },
  },
]
