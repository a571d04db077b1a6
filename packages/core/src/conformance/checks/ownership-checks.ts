import type { DriverLease, LockDriver } from '../../driver.js'
import { isLockError } from '../../errors.js'
import type { ConformanceCheck } from '../check.js'
import type { CheckContext } from '../check-context.js'
import { describeError, ensure, expectLockError } from '../conformance-failure.js'
import type { KitEnvironment } from '../options.js'
import { expectFreeWithin, expectHeld, loseLease, lossWaitMs, tryOnce } from './support.js'

function needsLoss(env: KitEnvironment): string | undefined {
  if (env.capabilities.expiry === 'lease' || env.options.faults?.dropLock) return undefined
  return "capabilities.expiry is 'session' (a live session keeps its locks) and no faults.dropLock given to make one go stale"
}

/** A stale lease on driver A, superseded by a successor's lease on driver B (raw driver calls). */
async function staleAndSuccessor(ctx: CheckContext): Promise<{
  a: LockDriver
  b: LockDriver
  c: LockDriver
  key: string
  stale: DriverLease
  successor: DriverLease
}> {
  const [a, b, c] = await ctx.drivers(3)
  const key = ctx.nsKey(ctx.key())
  const stale = await ctx.rawAcquire(a, key, { ttlMs: ctx.timing.shortTtlMs, waitMs: 0 })
  ensure(stale !== null, 'driver.acquire of a free key returned null')
  await loseLease(ctx, stale)
  const successor = await ctx.rawAcquire(b, key, {
    ttlMs: ctx.timing.longTtlMs,
    waitMs: lossWaitMs(ctx),
  })
  ensure(
    successor !== null,
    `a contender did not get the key within ${lossWaitMs(ctx)} ms after the first lease was lost`,
  )
  ensure(
    successor.fence > stale.fence,
    `S3: successor fence ${successor.fence} is not above the stale ${stale.fence}`,
  )
  return { a, b, c, key, stale, successor }
}

/** Fails unless the successor still holds `key`: a third driver is refused, the successor renews. */
async function expectSuccessorHolds(
  ctx: CheckContext,
  s: Awaited<ReturnType<typeof staleAndSuccessor>>,
  after: string,
): Promise<void> {
  const intruder = await ctx.rawAcquire(s.c, s.key, { ttlMs: ctx.timing.longTtlMs, waitMs: 0 })
  ensure(
    intruder === null,
    `${after}, a third driver got the successor's key (fence ${intruder?.fence}): the successor's lock was freed`,
  )
  if (ctx.caps.inspect && s.c.inspect) {
    const info = await s.c.inspect(s.key)
    ensure(info?.held === true, `${after}, inspect says the key is free`)
    if (info.owner !== undefined)
      ensure(
        info.owner === s.successor.owner,
        `${after}, inspect shows owner ${info.owner}, not the successor`,
      )
    if (info.fence !== undefined)
      ensure(
        info.fence === s.successor.fence,
        `${after}, inspect shows fence ${info.fence}, not the successor's ${s.successor.fence}`,
      )
  }
  const renewed = await s.b.renew(s.successor, ctx.timing.longTtlMs)
  ensure(renewed.ok, `${after}, the successor's own renew failed`)
}

/** Release and ownership (S2): release frees at once and is idempotent; stale owners change nothing. */
export const ownershipChecks: readonly ConformanceCheck[] = [
  {
    group: 'release and ownership',
    id: 'O1',
    name: 'release frees the key for another driver at once, and a second release() is a no-op',
    async run(ctx) {
      const [a, b] = await ctx.lockers(2)
      const key = ctx.key()
      const held = await a.acquire(key, { waitMs: ctx.timing.slackMs })
      await held.release()
      const other = await tryOnce(b, key)
      ensure(other !== null, 'another driver could not get the key right after release() resolved')
      await held.release()
      await expectHeld(ctx, a, key, "after the first holder's second release()")
      ensure(other.isValid(), "the first holder's second release() invalidated the new holder")
      await other.release()
    },
  },
  {
    group: 'release and ownership',
    id: 'S2',
    name: "S2: stale holder's release does not free the successor's lock",
    skip: needsLoss,
    async run(ctx) {
      const s = await staleAndSuccessor(ctx)
      const released = await s.a.release(s.stale)
      await expectSuccessorHolds(ctx, s, "after the stale holder's release")
      ensure(
        released === false,
        'driver.release of a stale lease returned true (it must say the lock was no longer ours)',
      )
    },
  },
  {
    group: 'release and ownership',
    id: 'S2b',
    name: "S2: stale holder's renew does not extend or take the successor's lock",
    skip: needsLoss,
    async run(ctx) {
      const s = await staleAndSuccessor(ctx)
      const renewed = await s.a.renew(s.stale, ctx.timing.longTtlMs)
      ensure(
        !renewed.ok,
        'driver.renew of a stale lease returned { ok: true } while a successor holds the key',
      )
      await expectSuccessorHolds(ctx, s, "after the stale holder's renew")
      if (s.a.renewMany) {
        const many = await s.a.renewMany([s.stale], ctx.timing.longTtlMs)
        ensure(
          many.length === 1 && many[0]?.ok === false,
          'driver.renewMany of a stale lease did not return [{ ok: false }]',
        )
        await expectSuccessorHolds(ctx, s, "after the stale holder's renewMany")
      }
    },
  },
  {
    group: 'release and ownership',
    id: 'S2c',
    name: "S2: a stale handle's extend() throws LockLostError and its release() neither throws nor frees the successor",
    skip: needsLoss,
    async run(ctx) {
      const a = await ctx.locker({ renew: false })
      const [b, c] = await ctx.lockers(2)
      const key = ctx.key()
      const stale = await a.acquire(key, {
        ttlMs: ctx.timing.shortTtlMs,
        waitMs: ctx.timing.slackMs,
      })
      await loseLease(ctx, { key: ctx.nsKey(key), owner: stale.owner, fence: stale.fence })
      const successor = await b.acquire(key, {
        ttlMs: ctx.timing.longTtlMs,
        waitMs: lossWaitMs(ctx),
      })
      const err = await expectLockError(
        stale.extend(ctx.timing.longTtlMs),
        'LOCK_LOST',
        "the stale handle's extend()",
      )
      ensure(isLockError(err, 'LOCK_LOST'), () => describeError(err))
      ensure(!stale.isValid(), 'the stale handle is valid again after extend() (S6)')
      await stale.release()
      ensure(
        successor.isValid() && !successor.signal.aborted,
        "the stale handle's release() broke the successor",
      )
      await expectHeld(ctx, c, key, "after the stale handle's extend() and release()")
      await successor.release()
      const free = await expectFreeWithin(
        c,
        key,
        ctx.timing.slackMs,
        'the key to be free after the successor released',
      )
      await free.release()
    },
  },
]
