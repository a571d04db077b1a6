import type { ConformanceCheck } from '../check.js'
import { ensure, rejectionOf } from '../conformance-failure.js'
import { expectHeld, tryOnce } from './support.js'

const OWNER_PATTERN = /^[0-9a-f]{32}$/

/** Acquire and tryAcquire basics: handles, independent keys, re-acquire after release. */
export const acquireChecks: readonly ConformanceCheck[] = [
  {
    group: 'acquire',
    id: 'AQ1',
    name: 'acquire returns a held handle: key, 32-hex owner, bigint fence, live signal, validity within ttlMs',
    async run(ctx) {
      const locker = await ctx.locker()
      const key = ctx.key()
      const ttlMs = ctx.timing.longTtlMs
      const startMs = performance.now()
      const handle = await locker.acquire(key, { ttlMs, waitMs: ctx.timing.slackMs })
      ensure(
        handle.key === key,
        `handle.key is ${JSON.stringify(handle.key)}, expected the user key ${JSON.stringify(key)}`,
      )
      ensure(
        OWNER_PATTERN.test(handle.owner),
        `handle.owner ${JSON.stringify(handle.owner)} is not 32 lowercase hex`,
      )
      ensure(
        typeof handle.fence === 'bigint',
        `handle.fence is a ${typeof handle.fence}, expected a bigint`,
      )
      ensure(handle.state === 'held', `state is ${handle.state}, expected held`)
      ensure(!handle.signal.aborted, 'signal is aborted on a fresh lock')
      ensure(handle.isValid(), 'isValid() is false on a fresh lock')
      const validMs = handle.validForMs()
      ensure(validMs > 0, `validForMs() is ${validMs} on a fresh lock`)
      ensure(
        validMs <= ttlMs + (performance.now() - startMs),
        `validForMs() ${validMs} exceeds the requested ttlMs ${ttlMs}`,
      )
      await handle.release()
      const after: string = handle.state
      ensure(after === 'released', `state after release() is ${after}, expected released`)
      ensure(!handle.isValid(), 'isValid() is true after release()')
      ensure(!handle.signal.aborted, 'release() aborted the signal (it must abort only on loss)')
    },
  },
  {
    group: 'acquire',
    id: 'AQ2',
    name: 'tryAcquire returns a handle for a free key and null, without waiting, for a held one',
    async run(ctx) {
      const [a, b] = await ctx.lockers(2)
      const key = ctx.key()
      const handle = await tryOnce(a, key)
      ensure(handle !== null, 'tryAcquire of a free key returned null')
      const startMs = performance.now()
      const second = await tryOnce(b, key)
      const tookMs = performance.now() - startMs
      ensure(second === null, `tryAcquire of a held key returned a handle (fence ${second?.fence})`)
      const boundMs = ctx.timing.deadlineToleranceMs + ctx.timing.opTimeoutMs
      ensure(
        tookMs <= boundMs,
        `tryAcquire of a held key took ${Math.round(tookMs)} ms (one attempt must not wait; bound ${boundMs} ms)`,
      )
      await handle.release()
    },
  },
  {
    group: 'acquire',
    id: 'AQ3',
    name: 'independent keys are held at the same time, by one Locker and by several',
    async run(ctx) {
      const [a, b] = await ctx.lockers(2)
      const keys = [ctx.key('one'), ctx.key('two'), ctx.key('three')]
      const mine = await Promise.all(keys.map((k) => a.acquire(k, { waitMs: ctx.timing.slackMs })))
      const other = await tryOnce(b, ctx.key('four'))
      ensure(other !== null, 'holding three keys blocked a fourth, unrelated key on another driver')
      for (const h of mine) ensure(h.isValid(), `key ${h.key} is not valid while others are held`)
      for (const k of keys) await expectHeld(ctx, b, k, `independent key ${k}`)
      await Promise.all([...mine.map((h) => h.release()), other.release()])
    },
  },
  {
    group: 'acquire',
    id: 'AQ4',
    name: 'a released key is acquired again at once, by the same Locker and by another driver, with a new owner',
    async run(ctx) {
      const [a, b] = await ctx.lockers(2)
      const key = ctx.key()
      const first = await a.acquire(key, { waitMs: ctx.timing.slackMs })
      await first.release()
      const again = await tryOnce(a, key)
      ensure(again !== null, 'the same Locker could not tryAcquire a key it had just released')
      ensure(again.owner !== first.owner, 'a new acquisition reused the previous owner id')
      await again.release()
      const other = await tryOnce(b, key)
      ensure(
        other !== null,
        'another driver could not tryAcquire a key that had just been released',
      )
      await other.release()
    },
  },
  {
    group: 'acquire',
    id: 'AQ5',
    name: 'withLock runs fn with a valid handle, returns its result, and releases after, even on throw',
    async run(ctx) {
      const [a, b] = await ctx.lockers(2)
      const key = ctx.key()
      const result = await a.withLock(key, async (handle) => {
        ensure(handle.isValid(), 'the handle given to fn is not valid')
        await expectHeld(ctx, b, key, 'inside withLock')
        return 42
      })
      ensure(result === 42, `withLock returned ${String(result)}, expected fn's result 42`)
      const afterOk = await tryOnce(b, key)
      ensure(afterOk !== null, 'the key is still held after withLock returned')
      await afterOk.release()
      const boom = new Error('fn failed')
      const err = await rejectionOf(
        a.withLock(key, async () => {
          throw boom
        }),
        'withLock with a throwing fn',
      )
      ensure(err === boom, "withLock did not rethrow fn's error as is")
      const afterThrow = await tryOnce(b, key)
      ensure(afterThrow !== null, 'the key is still held after fn threw inside withLock')
      await afterThrow.release()
    },
  },
]
