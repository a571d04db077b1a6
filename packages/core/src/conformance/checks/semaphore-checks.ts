import { isLockError } from '../../errors.js'
import type { LockHandle } from '../../lock-handle.js'
import type { Semaphore } from '../../semaphore.js'
import type { ConformanceCheck } from '../check.js'
import type { CheckContext } from '../check-context.js'
import { describeError, ensure, rejectionOf } from '../conformance-failure.js'
import { delay, settleTimed, waitFor } from '../wait-for.js'
import {
  expectHeld,
  expectIncreasing,
  loseLease,
  lossWaitMs,
  tryOnce,
  tryPermit,
} from './support.js'

/** Fails unless one more permit of `semaphore` is refused (all `limit` are in use). */
async function expectFull(semaphore: Semaphore, what: string): Promise<void> {
  const extra = await tryPermit(semaphore)
  if (extra !== null) await extra.release()
  ensure(
    extra === null,
    `M1: ${what}: a ${semaphore.limit + 1}th permit of a limit-${semaphore.limit} semaphore was granted (fence ${extra?.fence})`,
  )
}

/** The bound for a waiter to get a permit after a release. */
function handoffBoundMs(ctx: CheckContext): number {
  return ctx.timing.pollHandoffMs + ctx.timing.slackMs
}

/** M1, F1 for permits, and the permit's lifecycle; the group runs only with `capabilities.semaphores`. */
export const semaphoreChecks: readonly ConformanceCheck[] = [
  {
    group: 'semaphores',
    id: 'M1',
    name: 'M1: a limit-2 semaphore admits exactly 2 of 4 drivers racing tryAcquire, and a waiter only after a permit is released',
    async run(ctx) {
      const lockers = await ctx.lockers(4, { ttlMs: ctx.timing.longTtlMs })
      const key = ctx.key()
      const sems = lockers.map((l) => l.semaphore(key, { limit: 2 }))
      const results = await Promise.all(sems.map((s) => tryPermit(s)))
      const permits = results.filter((p): p is LockHandle => p !== null)
      ensure(
        permits.length <= 2,
        `M1: ${permits.length} of 4 racing drivers got a permit of a limit-2 semaphore`,
      )
      // A race lost to core's one-attempt deadline is no answer: top up (liveness only).
      const idle = sems.filter((_, i) => results[i] === null)
      while (permits.length < 2 && idle.length > 1) {
        const p = await tryPermit(idle.pop() as Semaphore)
        if (p !== null) permits.push(p)
      }
      ensure(permits.length === 2, `only ${permits.length} permits of a free limit-2 semaphore`)
      ensure(
        permits.every((p) => p.mode === 'semaphore'),
        `permit handles have modes ${permits.map((p) => p.mode).join(', ')}`,
      )
      const loser = idle[0] as Semaphore
      await expectFull(loser, 'while two permits are held')
      const waiting = settleTimed(loser.acquire({ waitMs: 10 * ctx.timing.pollHandoffMs }))
      const early = await Promise.race([waiting, delay(ctx.timing.timeoutWaitMs).then(() => null)])
      ensure(early === null, 'M1: a waiter got a permit while both were held')
      const releasedAtMs = performance.now()
      await (permits.shift() as LockHandle).release()
      const outcome = await waiting
      ensure(
        outcome.ok,
        () => `the waiter failed after a release: ${describeError(!outcome.ok && outcome.error)}`,
      )
      permits.push(outcome.value)
      const handoffMs = outcome.atMs - releasedAtMs
      ensure(
        handoffMs <= handoffBoundMs(ctx),
        `the waiter got the permit ${Math.round(handoffMs)} ms after the release (bound ${handoffBoundMs(ctx)} ms)`,
      )
      await expectFull(sems[0] as Semaphore, 'after the waiter took the freed permit')
      await Promise.all(permits.map((p) => p.release()))
      const again = await tryPermit(sems[1] as Semaphore)
      ensure(again !== null, 'no permit after every holder released')
      await again.release()
    },
  },
  {
    group: 'semaphores',
    id: 'M1b',
    name: 'M1: a semaphore is a resource of its own: its permits and the lock of the same key never block each other',
    async run(ctx) {
      const [a, b, c] = await ctx.lockers(3, { ttlMs: ctx.timing.longTtlMs })
      const key = ctx.key()
      const lock = await a.acquire(key, { waitMs: ctx.timing.slackMs })
      const permit = await tryPermit(b.semaphore(key, { limit: 1 }))
      ensure(permit !== null, 'a permit of semaphore "k" was refused while the lock "k" was held')
      await expectFull(c.semaphore(key, { limit: 1 }), 'beside the lock of the same key')
      await expectHeld(ctx, c, key, 'while a permit of the same key is held')
      await lock.release()
      const next = await c.acquire(key, { waitMs: handoffBoundMs(ctx) })
      ensure(permit.isValid(), 'the permit lost validity when the lock changed hands')
      await next.release()
      if (ctx.caps.sharedLocks) {
        const reader = await tryOnce(c, key, { mode: 'shared' })
        ensure(
          reader !== null,
          'a shared acquire was refused while only a permit of the key was held',
        )
        await reader.release()
      }
      await permit.release()
    },
  },
  {
    group: 'semaphores',
    id: 'M1d',
    name: 'M1: one Locker takes at most limit permits of a semaphore (no session re-entrance), and another driver none beyond them',
    async run(ctx) {
      const [a, b] = await ctx.lockers(2, { ttlMs: ctx.timing.longTtlMs })
      const key = ctx.key()
      const sem = a.semaphore(key, { limit: 2 })
      const permits = [await tryPermit(sem), await tryPermit(sem)]
      const held = permits.filter((p): p is LockHandle => p !== null)
      ensure(held.length === 2, `one Locker got ${held.length} of 2 free permits`)
      await expectFull(sem, 'one Locker holding both permits')
      await expectFull(b.semaphore(key, { limit: 2 }), 'another Locker, both permits held')
      await Promise.all(held.map((p) => p.release()))
    },
  },
  {
    group: 'semaphores',
    id: 'F1b',
    name: 'F1: permit fences strictly increase per semaphore key, for permits held together and in succession',
    async run(ctx) {
      const [a, b] = await ctx.lockers(2, { ttlMs: ctx.timing.longTtlMs })
      const key = ctx.key()
      const [sa, sb] = [a.semaphore(key, { limit: 3 }), b.semaphore(key, { limit: 3 })]
      const waitMs = handoffBoundMs(ctx)
      const fences: bigint[] = []
      const held: LockHandle[] = []
      for (const s of [sa, sb, sa]) {
        const p = await s.acquire({ waitMs })
        fences.push(p.fence)
        held.push(p)
      }
      await (held.shift() as LockHandle).release()
      const p4 = await sb.acquire({ waitMs })
      fences.push(p4.fence)
      held.push(p4)
      await Promise.all(held.map((p) => p.release()))
      for (const s of [sa, sb]) {
        const p = await s.acquire({ waitMs })
        fences.push(p.fence)
        await p.release()
      }
      expectIncreasing(fences, 'permits granted one after another')
    },
  },
  {
    group: 'semaphores',
    id: 'MS1',
    name: "driver.close() gives back the driver's permits at once: another driver gets one with a higher fence",
    async run(ctx) {
      const [a, b] = await ctx.drivers(2)
      const key = ctx.nsKey(ctx.key())
      const opts = { ttlMs: ctx.timing.longTtlMs, mode: 'semaphore' as const, limit: 1 }
      const permit = await ctx.rawAcquire(a, key, { ...opts, waitMs: 0 })
      ensure(permit !== null, 'driver.acquire of a free semaphore returned null')
      await a.close()
      const next = await ctx.rawAcquire(b, key, { ...opts, waitMs: handoffBoundMs(ctx) })
      ensure(
        next !== null,
        `another driver got no permit within ${handoffBoundMs(ctx)} ms of the holder's driver.close() (its TTL is ${opts.ttlMs} ms)`,
      )
      ensure(next.fence > permit.fence, `fence ${next.fence} is not above ${permit.fence}`)
    },
  },
  {
    group: 'semaphores',
    id: 'MS2',
    name: 'a renewed permit keeps its place across 2x its TTL; a lost permit frees its place for another driver, with a higher fence',
    timeoutMs: (t) => 10_000 + 3 * t.renewTtlMs + t.lossTtlMs + 4 * t.slackMs + t.shortTtlMs,
    async run(ctx) {
      const [a, b] = await ctx.lockers(2)
      const key = ctx.key()
      const ttlMs = ctx.timing.renewTtlMs
      const renewed = await a.semaphore(key, { limit: 1 }).acquire({
        ttlMs,
        waitMs: ctx.timing.slackMs,
      })
      const other = b.semaphore(key, { limit: 1 })
      const untilMs = performance.now() + 2 * ttlMs
      while (performance.now() < untilMs) {
        await expectFull(other, 'while a renewed permit is held')
        ensure(renewed.isValid(), 'the renewed permit lost validity')
        await delay(ttlMs / 3)
      }
      await renewed.release()
      const c = await ctx.locker({ renew: false })
      const lost = await c.semaphore(key, { limit: 1 }).acquire({
        ttlMs: ctx.timing.shortTtlMs,
        waitMs: handoffBoundMs(ctx),
      })
      await loseLease(ctx, {
        key: ctx.nsKey(key),
        owner: lost.owner,
        fence: lost.fence,
        mode: 'semaphore',
      })
      const next = await other.acquire({
        ttlMs: ctx.timing.longTtlMs,
        waitMs: lossWaitMs(ctx) + ctx.timing.pollHandoffMs,
      })
      ensure(next.fence > lost.fence, `fence ${next.fence} is not above the lost ${lost.fence}`)
      await waitFor(() => !lost.isValid(), {
        timeoutMs: ctx.timing.shortTtlMs + ctx.timing.slackMs,
        message: 'the lost permit to turn invalid',
      })
      await lost.release()
      await expectFull(c.semaphore(key, { limit: 1 }), "after the lost permit's release")
      await next.release()
    },
  },
  {
    group: 'semaphores',
    id: 'MS3',
    name: "a permit asked with another limit than the holders' is refused with LockLimitMismatchError and leaves nothing held (where the driver can tell)",
    async run(ctx) {
      const [a, b] = await ctx.lockers(2, { ttlMs: ctx.timing.longTtlMs })
      const key = ctx.key()
      const held = await a.semaphore(key, { limit: 2 }).acquire({ waitMs: ctx.timing.slackMs })
      const mismatched = b.semaphore(key, { limit: 3 })
      const outcome = await settleTimed(mismatched.acquire({ waitMs: ctx.timing.timeoutWaitMs }))
      if (outcome.ok) {
        await outcome.value.release()
        await held.release()
        return ctx.skip(
          'the driver granted a permit with another limit (it does not detect mismatches)',
        )
      }
      const err = outcome.error
      if (isLockError(err, 'LOCK_TIMEOUT')) {
        await held.release()
        return ctx.skip(
          'the driver made the mismatched request wait (it does not detect mismatches)',
        )
      }
      ensure(
        isLockError(err, 'LOCK_LIMIT_MISMATCH'),
        () => `the mismatched acquire rejected with ${describeError(err)}`,
      )
      ensure(
        err.limit === 3 && err.heldLimit === 2 && err.key === key,
        `LockLimitMismatchError says limit ${err.limit}, heldLimit ${err.heldLimit}, key ${err.key}`,
      )
      const same = a.semaphore(key, { limit: 2 })
      const second = await tryPermit(same)
      ensure(second !== null, 'the second permit was refused after a mismatched request')
      await expectFull(same, 'after a mismatched request')
      await Promise.all([held.release(), second.release()])
      const err2 = await rejectionOf(
        Promise.resolve().then(() => b.semaphore(key, { limit: 0 })),
        'semaphore(key, { limit: 0 })',
      )
      ensure(err2 instanceof RangeError, `limit 0 threw ${describeError(err2)}, not a RangeError`)
    },
  },
  {
    group: 'semaphores',
    id: 'MS4',
    name: 'inspect(semaphore) reports the permits in use and the limit where the backend tells, and the lock of the key stays free',
    skip: (env) => (env.capabilities.inspect ? undefined : 'capabilities.inspect is false'),
    async run(ctx) {
      const [a, b] = await ctx.lockers(2, { ttlMs: ctx.timing.longTtlMs })
      const key = ctx.key()
      const sem = a.semaphore(key, { limit: 3 })
      const before = await b.semaphore(key, { limit: 3 }).inspect()
      ensure(!before.held, 'inspect says a never-used semaphore is held')
      const permits = [
        await sem.acquire({ waitMs: ctx.timing.slackMs }),
        await sem.acquire({ waitMs: ctx.timing.slackMs }),
      ]
      const info = await b.semaphore(key, { limit: 3 }).inspect()
      ensure(info.held, 'inspect says a semaphore with two permits in use is free')
      ensure(
        info.holders === undefined || info.holders === 2,
        `inspect reports ${info.holders} holders for two permits`,
      )
      ensure(
        info.limit === undefined || info.limit === 3,
        `inspect reports limit ${info.limit} for a limit-3 semaphore`,
      )
      const lock = await b.inspect(key)
      ensure(!lock.held, 'inspect of the lock says held while only permits of the key are held')
      await Promise.all(permits.map((p) => p.release()))
      const after = await b.semaphore(key, { limit: 3 }).inspect()
      ensure(!after.held, 'inspect says the semaphore is held after every permit was released')
    },
  },
  {
    group: 'semaphores',
    id: 'MS5',
    name: 'MS5: two permits released in the same tick admit both queued waiters (no lost wake-up, no one grant per release)',
    async run(ctx) {
      const lockers = await ctx.lockers(4, { ttlMs: ctx.timing.longTtlMs })
      const key = ctx.key()
      const sems = lockers.map((l) => l.semaphore(key, { limit: 2 }))
      const held = [
        await (sems[0] as Semaphore).acquire({ waitMs: ctx.timing.slackMs }),
        await (sems[1] as Semaphore).acquire({ waitMs: ctx.timing.slackMs }),
      ]
      const boundMs = handoffBoundMs(ctx)
      const waitMs = 4 * boundMs + ctx.timing.timeoutWaitMs
      const waiters = [sems[2], sems[3]].map((sem) =>
        settleTimed((sem as Semaphore).acquire({ waitMs })),
      )
      const early = await Promise.race([
        Promise.race(waiters),
        delay(ctx.timing.timeoutWaitMs).then(() => null),
      ])
      ensure(early === null, 'M1: a waiter got a permit while both were held')
      const releasedAtMs = performance.now()
      await Promise.all(held.map((p) => p.release()))
      const outcomes = await Promise.all(waiters)
      const granted = outcomes.flatMap((o) => (o.ok ? [o.value] : []))
      try {
        for (const [i, outcome] of outcomes.entries()) {
          ensure(
            outcome.ok,
            () =>
              `waiter ${i + 1} failed after both permits were released: ${describeError(!outcome.ok && outcome.error)}`,
          )
          const afterMs = outcome.atMs - releasedAtMs
          ensure(
            afterMs <= boundMs,
            `waiter ${i + 1} got a permit ${Math.round(afterMs)} ms after both were released (bound ${boundMs} ms)`,
          )
        }
      } finally {
        await Promise.all(granted.map((p) => p.release()))
      }
    },
  },
  {
    group: 'semaphores',
    id: 'MS6',
    name: 'MS6: a permit that is not renewed expires: its place goes to another driver with a higher fence, and the lapsed handle is invalid',
    skip: (env) =>
      env.capabilities.expiry === 'lease'
        ? undefined
        : 'session backends free a permit when its session ends, not at its TTL (the loss group covers it)',
    async run(ctx) {
      const silent = await ctx.locker({ ttlMs: ctx.timing.shortTtlMs, renew: false })
      const other = await ctx.locker({ ttlMs: ctx.timing.longTtlMs })
      const key = ctx.key()
      const lapsing = await silent
        .semaphore(key, { limit: 1 })
        .acquire({ waitMs: ctx.timing.slackMs })
      const sem = other.semaphore(key, { limit: 1 })
      const boundMs = ctx.timing.shortTtlMs + ctx.timing.pollHandoffMs + 2 * ctx.timing.slackMs
      const next = await sem.acquire({ waitMs: boundMs })
      try {
        ensure(
          !lapsing.isValid(),
          'M1: the lapsed permit is still valid while another driver holds the only permit',
        )
        ensure(
          next.fence > lapsing.fence,
          `the permit after the lapsed one has fence ${next.fence}, not above ${lapsing.fence}`,
        )
      } finally {
        await next.release()
        await lapsing.release()
      }
    },
  },
  {
    group: 'semaphores',
    id: 'MS7',
    name: 'MS7: once every holder released, the semaphore may be used with another limit',
    async run(ctx) {
      const [a, b] = await ctx.lockers(2, { ttlMs: ctx.timing.longTtlMs })
      const key = ctx.key()
      const two = await Promise.all([
        a.semaphore(key, { limit: 2 }).acquire({ waitMs: ctx.timing.slackMs }),
        a.semaphore(key, { limit: 2 }).acquire({ waitMs: ctx.timing.slackMs }),
      ])
      await Promise.all(two.map((p) => p.release()))
      const sem3 = b.semaphore(key, { limit: 3 })
      const three: LockHandle[] = []
      try {
        for (let i = 0; i < 3; i++) three.push(await sem3.acquire({ waitMs: ctx.timing.slackMs }))
        ensure(
          three.length === 3,
          `only ${three.length} permits of limit 3 after the limit-2 holders left`,
        )
        await expectFull(sem3, 'with three permits of limit 3 held')
      } finally {
        await Promise.all(three.map((p) => p.release()))
      }
    },
  },
]
