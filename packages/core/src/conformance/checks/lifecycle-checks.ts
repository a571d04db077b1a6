import type { ConformanceCheck } from '../check.js'
import { ensure, expectLockError } from '../conformance-failure.js'
import { settleTimed } from '../wait-for.js'
import { expectFreeWithin, recordingLocker, tryOnce, untilWaiting } from './support.js'

/** close(): releases, rejects waiters, is idempotent; every call after it throws LockClosedError. */
export const lifecycleChecks: readonly ConformanceCheck[] = [
  {
    group: 'lifecycle',
    id: 'LC1',
    name: 'close() releases every held lock: another driver gets each key at once',
    async run(ctx) {
      const [a, b] = await ctx.lockers(2)
      const keys = [ctx.key('one'), ctx.key('two'), ctx.key('three')]
      const handles = await Promise.all(
        keys.map((k) => a.acquire(k, { waitMs: ctx.timing.slackMs })),
      )
      await a.close()
      for (const h of handles) {
        ensure(!h.isValid(), `handle of ${h.key} is still valid after close()`)
        ensure(
          !h.signal.aborted,
          `close() aborted the signal of ${h.key} (a release is not a loss)`,
        )
      }
      for (const k of keys) {
        const got = await tryOnce(b, k)
        ensure(got !== null, `key ${k} is still held after the holder's Locker closed`)
        await got.release()
      }
    },
  },
  {
    group: 'lifecycle',
    id: 'LC2',
    name: 'use after close() throws LockClosedError (acquire, tryAcquire, withLock, inspect)',
    async run(ctx) {
      const a = await ctx.locker()
      await a.close()
      const key = ctx.key()
      await expectLockError(a.acquire(key, { waitMs: 0 }), 'LOCK_CLOSED', 'acquire after close()')
      await expectLockError(a.tryAcquire(key), 'LOCK_CLOSED', 'tryAcquire after close()')
      let ran = false
      await expectLockError(
        a.withLock(key, () => {
          ran = true
        }),
        'LOCK_CLOSED',
        'withLock after close()',
      )
      ensure(!ran, 'withLock ran fn after close()')
      if (ctx.caps.inspect)
        await expectLockError(a.inspect(key), 'LOCK_CLOSED', 'inspect after close()')
    },
  },
  {
    group: 'lifecycle',
    id: 'LC3',
    name: 'a waiter pending at close() rejects with LockClosedError and leaves nothing held (S4)',
    async run(ctx) {
      const [a, c] = await ctx.lockers(2)
      const { locker: b, events } = await recordingLocker(ctx)
      const key = ctx.key()
      const held = await a.acquire(key, { waitMs: ctx.timing.slackMs })
      const waiting = settleTimed(b.acquire(key, { waitMs: 10 * ctx.timing.pollHandoffMs }))
      await untilWaiting(ctx, events, key)
      await b.close()
      const outcome = await waiting
      ensure(!outcome.ok, 'the waiter was granted the key while its Locker closed')
      await expectLockError(Promise.reject(outcome.error), 'LOCK_CLOSED', 'a waiter at close()')
      await held.release()
      const third = await expectFreeWithin(
        c,
        key,
        ctx.timing.pollHandoffMs + ctx.timing.slackMs,
        'a third driver to get the key (phantom grant to the closed waiter?)',
      )
      await third.release()
    },
  },
  {
    group: 'lifecycle',
    id: 'LC4',
    name: 'close() is idempotent, [Symbol.asyncDispose] closes, and release() after close() does not throw',
    async run(ctx) {
      const [a, b] = await ctx.lockers(2)
      const key = ctx.key()
      const handle = await a.acquire(key, { waitMs: ctx.timing.slackMs })
      await Promise.all([a.close(), a.close()])
      await a.close()
      await handle.release()
      await handle[Symbol.asyncDispose]()
      ensure(
        handle.state === 'released',
        `state after close() is ${handle.state}, expected released`,
      )
      const other = await b.acquire(key, { waitMs: ctx.timing.slackMs })
      await b[Symbol.asyncDispose]()
      await expectLockError(
        b.tryAcquire(key),
        'LOCK_CLOSED',
        'tryAcquire after [Symbol.asyncDispose]()',
      )
      ensure(!other.isValid(), 'a handle is still valid after its Locker was disposed')
    },
  },
  {
    group: 'lifecycle',
    id: 'H1',
    name: "H1: driver.close() gives back the driver's locks at once and is idempotent",
    async run(ctx) {
      const [a, b] = await ctx.drivers(2)
      const key = ctx.nsKey(ctx.key())
      const lease = await ctx.rawAcquire(a, key, { ttlMs: ctx.timing.longTtlMs, waitMs: 0 })
      ensure(lease !== null, 'driver.acquire of a free key returned null')
      await a.close()
      await a.close()
      const next = await ctx.rawAcquire(b, key, {
        ttlMs: ctx.timing.longTtlMs,
        waitMs: ctx.timing.pollHandoffMs + ctx.timing.slackMs,
      })
      ensure(
        next !== null,
        `another driver did not get the key within ${ctx.timing.pollHandoffMs + ctx.timing.slackMs} ms of the holder's driver.close() (its TTL is ${ctx.timing.longTtlMs} ms)`,
      )
      ensure(next.fence > lease.fence, `fence ${next.fence} is not above ${lease.fence}`)
    },
  },
]
