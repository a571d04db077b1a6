import type { LockHandle } from '../../lock-handle.js'
import type { ConformanceCheck } from '../check.js'
import { describeError, ensure, expectLockError } from '../conformance-failure.js'
import { delay, settleTimed, waitFor } from '../wait-for.js'
import {
  expectHeld,
  expectIncreasing,
  loseLease,
  lossWaitMs,
  recordingLocker,
  tryOnce,
  untilWaiting,
} from './support.js'

/** How many later readers may pass a waiting writer before R2 counts it as starved. */
const READER_STREAM = 12

/** R1, R2, F1 and the shared grant's lifecycle; the group runs only with `capabilities.sharedLocks`. */
export const sharedChecks: readonly ConformanceCheck[] = [
  {
    group: 'shared locks',
    id: 'R1',
    name: 'R1: shared holders on two drivers hold the key together; an exclusive acquire on a third is refused until both release, and a shared one while it holds',
    async run(ctx) {
      const [a, b, c] = await ctx.lockers(3)
      const key = ctx.key()
      const waitMs = ctx.timing.slackMs
      const ttlMs = ctx.timing.longTtlMs
      const r1 = await a.acquire(key, { mode: 'shared', waitMs, ttlMs })
      const r2 = await b.acquire(key, { mode: 'shared', waitMs, ttlMs })
      ensure(r1.mode === 'shared' && r2.mode === 'shared', `handle modes ${r1.mode}, ${r2.mode}`)
      await expectHeld(ctx, c, key, 'while two drivers hold it shared')
      await expectLockError(
        c.acquire(key, { waitMs: ctx.timing.timeoutWaitMs }),
        'LOCK_TIMEOUT',
        "a third driver's exclusive acquire beside two shared holders",
      )
      await r1.release()
      await expectHeld(ctx, c, key, 'while one shared holder is left')
      await r2.release()
      const w = await c.acquire(key, { waitMs: ctx.timing.pollHandoffMs + waitMs, ttlMs })
      ensure(w.mode === 'exclusive', `the writer's handle has mode ${w.mode}`)
      await expectHeld(ctx, a, key, 'while an exclusive holder holds it', 'shared')
      await expectHeld(ctx, b, key, 'while an exclusive holder holds it', 'exclusive')
      ensure(w.isValid(), 'the exclusive holder lost validity while others tried the key')
      await w.release()
    },
  },
  {
    group: 'shared locks',
    id: 'R1b',
    name: 'R1: one Locker holds a key shared several times at once, and its own exclusive acquire is refused meanwhile (no session re-entrance)',
    async run(ctx) {
      const [a, b] = await ctx.lockers(2)
      const key = ctx.key()
      const opts = {
        mode: 'shared' as const,
        waitMs: ctx.timing.slackMs,
        ttlMs: ctx.timing.longTtlMs,
      }
      const readers = await Promise.all([
        a.acquire(key, opts),
        a.acquire(key, opts),
        a.acquire(key, opts),
      ])
      const owners = new Set(readers.map((r) => r.owner))
      ensure(owners.size === 3, 'three shared acquires got fewer than three distinct owners')
      const own = await tryOnce(a, key)
      if (own !== null) await own.release()
      ensure(own === null, `the readers' own Locker got the key exclusive (fence ${own?.fence})`)
      await expectHeld(ctx, b, key, 'while one Locker holds it shared three times')
      await Promise.all(readers.slice(0, 2).map((r) => r.release()))
      await expectHeld(ctx, b, key, 'while one of three shared holders is left')
      ensure(readers[2]?.isValid() === true, 'the last shared holder lost validity')
      await readers[2]?.release()
      const w = await b.acquire(key, { waitMs: ctx.timing.pollHandoffMs + ctx.timing.slackMs })
      await w.release()
    },
  },
  {
    group: 'shared locks',
    id: 'R1c',
    name: "R1: one Locker's shared acquire is refused while that Locker holds the key exclusive (no session re-entrance)",
    async run(ctx) {
      const [a, b] = await ctx.lockers(2, { ttlMs: ctx.timing.longTtlMs })
      const key = ctx.key()
      const writer = await a.acquire(key, { waitMs: ctx.timing.slackMs })
      const own = await tryOnce(a, key, { mode: 'shared' })
      if (own !== null) await own.release()
      ensure(own === null, `the writer's own Locker got the key shared (fence ${own?.fence})`)
      await expectHeld(ctx, b, key, 'while one Locker holds it exclusive', 'shared')
      await writer.release()
      const reader = await a.acquire(key, {
        mode: 'shared',
        waitMs: ctx.timing.pollHandoffMs + ctx.timing.slackMs,
      })
      await reader.release()
    },
  },
  {
    group: 'shared locks',
    id: 'R2',
    name: `R2: a waiting exclusive acquire is not starved by a stream of overlapping shared acquires (fewer than ${READER_STREAM} later readers pass it)`,
    timeoutMs: (t) => 20_000 + READER_STREAM * (t.pollHandoffMs + 2 * t.slackMs),
    async run(ctx) {
      const readers = await ctx.lockers(2, { ttlMs: ctx.timing.longTtlMs })
      const { locker: writer, events } = await recordingLocker(ctx, { ttlMs: ctx.timing.longTtlMs })
      const key = ctx.key()
      const stepWaitMs = ctx.timing.pollHandoffMs + 4 * ctx.timing.slackMs
      let current = await (readers[0] as (typeof readers)[0]).acquire(key, {
        mode: 'shared',
        waitMs: ctx.timing.slackMs,
      })
      let writerGrant: LockHandle | undefined
      const waiting = settleTimed(
        writer
          .acquire(key, { waitMs: READER_STREAM * stepWaitMs + ctx.timing.slackMs })
          .then(async (w) => {
            writerGrant = w
            await delay(5)
            await w.release()
            return w
          }),
      )
      await untilWaiting(ctx, events, key)
      // Each reader takes the key before the previous one lets go, so the key never goes
      // free unless later readers wait behind the writer (fair queue or writer preference).
      let passed = 0
      try {
        for (let i = 1; i <= READER_STREAM && writerGrant === undefined; i++) {
          const next = settleTimed(
            (readers[i % 2] as (typeof readers)[0]).acquire(key, {
              mode: 'shared',
              waitMs: stepWaitMs,
            }),
          )
          await delay(Math.max(20, Math.round(ctx.timing.resolutionMs / 20)))
          const grantedBeforeRelease = writerGrant === undefined
          await current.release()
          const outcome = await next
          ensure(
            outcome.ok,
            () => `reader ${i} failed: ${describeError(!outcome.ok && outcome.error)}`,
          )
          current = outcome.value
          if (grantedBeforeRelease && writerGrant === undefined) passed++
        }
      } finally {
        await current.release()
      }
      const outcome = await waiting
      ensure(
        outcome.ok,
        () =>
          `the writer was starved: ${passed} later shared acquires were granted while it waited, then it failed: ${describeError(!outcome.ok && outcome.error)}`,
      )
      ensure(
        passed < READER_STREAM,
        `the writer was starved: all ${passed} later shared acquires were granted before it`,
      )
    },
  },
  {
    group: 'shared locks',
    id: 'R2b',
    name: 'R2: fair: readers and writers waiting on four drivers are granted in arrival order, consecutive readers together',
    skip: (env) =>
      env.capabilities.fair ? undefined : 'capabilities.fair is false (writer preference suffices)',
    async run(ctx) {
      const a = await ctx.locker({ ttlMs: ctx.timing.longTtlMs })
      const key = ctx.key()
      const held = await a.acquire(key, { waitMs: ctx.timing.slackMs })
      const arrivals: Array<'exclusive' | 'shared'> = ['shared', 'shared', 'exclusive', 'shared']
      const log: string[] = []
      const handles: Array<Promise<LockHandle>> = []
      for (const [i, mode] of arrivals.entries()) {
        const { locker, events } = await recordingLocker(ctx, { ttlMs: ctx.timing.longTtlMs })
        const handle = locker
          .acquire(key, { mode, waitMs: 10 * ctx.timing.pollHandoffMs })
          .then((h) => {
            log.push(`+${i}`)
            return h
          })
        // A failing check leaves later waiters to the cleanup's close: not a finding.
        handle.catch(() => undefined)
        handles.push(handle)
        await untilWaiting(ctx, events, key)
      }
      const [r0, r1, w2, r3] = handles as [
        Promise<LockHandle>,
        Promise<LockHandle>,
        Promise<LockHandle>,
        Promise<LockHandle>,
      ]
      await held.release()
      const readers = await Promise.all([r0, r1])
      // The writer waits for both readers; the reader behind it waits for the writer.
      await delay(ctx.timing.timeoutWaitMs)
      const early = log.filter((e) => e === '+2' || e === '+3')
      ensure(
        early.length === 0,
        `while readers 0 and 1 held the key, ${early.join(', ')} were granted too (arrivals: shared, shared, exclusive, shared)`,
      )
      for (const r of readers) {
        log.push(`-${readers.indexOf(r)}`)
        await r.release()
      }
      const writer = await w2
      await delay(ctx.timing.timeoutWaitMs)
      log.push('-2')
      await writer.release()
      const last = await r3
      await last.release()
      const order = log.join(' ')
      ensure(
        /^\+[01] \+[01] -0 -1 \+2 -2 \+3$/.test(order),
        `grants and releases ran as "${order}"; arrival order wants "+0 +1 -0 -1 +2 -2 +3"`,
      )
    },
  },
  {
    group: 'shared locks',
    id: 'F1',
    name: "F1: fences strictly increase per key across modes: exclusive, then shared holders, then exclusive, each above every earlier holder's",
    async run(ctx) {
      const [a, b] = await ctx.lockers(2, { ttlMs: ctx.timing.longTtlMs })
      const key = ctx.key()
      const waitMs = ctx.timing.pollHandoffMs + ctx.timing.slackMs
      const fences: bigint[] = []
      const take = async (mode: 'exclusive' | 'shared', on = a) => {
        const h = await on.acquire(key, { mode, waitMs })
        fences.push(h.fence)
        return h
      }
      const w1 = await take('exclusive')
      await w1.release()
      const r1 = await take('shared')
      const r2 = await take('shared', b)
      const r3 = await take('shared')
      await Promise.all([r1.release(), r2.release(), r3.release()])
      const w2 = await take('exclusive', b)
      await w2.release()
      const r4 = await take('shared', b)
      await r4.release()
      const w3 = await take('exclusive')
      await w3.release()
      expectIncreasing(
        fences,
        'grants in the order exclusive, shared x3 (held together), exclusive, shared, exclusive',
      )
    },
  },
  {
    group: 'shared locks',
    id: 'RS1',
    name: 'a shared grant renews, extends and releases like a mutex grant: kept across 2x its TTL against a writer, free for it after release',
    async run(ctx) {
      const [a, b] = await ctx.lockers(2)
      const key = ctx.key()
      const ttlMs = ctx.timing.renewTtlMs
      const reader = await a.acquire(key, { mode: 'shared', ttlMs, waitMs: ctx.timing.slackMs })
      const untilMs = performance.now() + 2 * ttlMs
      while (performance.now() < untilMs) {
        await expectHeld(ctx, b, key, 'while a renewed shared holder holds it')
        ensure(reader.isValid(), 'the renewed shared holder lost validity')
        await delay(ttlMs / 3)
      }
      await reader.extend()
      ensure(reader.validForMs() > 0, 'extend() of a shared grant left no validity')
      await reader.release()
      ensure(reader.state === 'released', `state is ${reader.state} after release()`)
      const w = await b.acquire(key, { waitMs: ctx.timing.pollHandoffMs + ctx.timing.slackMs })
      ensure(w.fence > reader.fence, `the writer's fence ${w.fence} is not above ${reader.fence}`)
      await w.release()
    },
  },
  {
    group: 'shared locks',
    id: 'RS2',
    name: "a lost shared grant frees the key for a writer with a higher fence, and the stale reader's release does not free the writer's lock",
    timeoutMs: (t) => 10_000 + t.lossTtlMs + 4 * t.slackMs + t.shortTtlMs,
    async run(ctx) {
      const [a, b, c] = await ctx.lockers(3, { renew: false })
      const key = ctx.key()
      const reader = await a.acquire(key, {
        mode: 'shared',
        ttlMs: ctx.timing.shortTtlMs,
        waitMs: ctx.timing.slackMs,
      })
      await loseLease(ctx, {
        key: ctx.nsKey(key),
        owner: reader.owner,
        fence: reader.fence,
        mode: 'shared',
      })
      const w = await b.acquire(key, {
        ttlMs: ctx.timing.longTtlMs,
        waitMs: lossWaitMs(ctx) + ctx.timing.pollHandoffMs,
      })
      ensure(w.fence > reader.fence, `the writer's fence ${w.fence} is not above ${reader.fence}`)
      await waitFor(() => !reader.isValid(), {
        timeoutMs: ctx.timing.shortTtlMs + ctx.timing.slackMs,
        message: 'the lost shared handle to turn invalid',
      })
      await reader.release()
      await expectHeld(ctx, c, key, "after the stale reader's release", 'shared')
      ensure(w.isValid(), "the stale reader's release broke the writer's lock")
      await w.release()
    },
  },
  {
    group: 'shared locks',
    id: 'RS3',
    name: 'inspect reports a shared hold (mode, holders where the backend tells) and an exclusive one, and the key free after release',
    skip: (env) => (env.capabilities.inspect ? undefined : 'capabilities.inspect is false'),
    async run(ctx) {
      const [a, b] = await ctx.lockers(2, { ttlMs: ctx.timing.longTtlMs })
      const key = ctx.key()
      const waitMs = ctx.timing.slackMs
      const r1 = await a.acquire(key, { mode: 'shared', waitMs })
      const r2 = await a.acquire(key, { mode: 'shared', waitMs })
      const shared = await b.inspect(key)
      ensure(shared.held, 'inspect says a key held shared twice is free')
      ensure(
        shared.mode === undefined || shared.mode === 'shared',
        `inspect reports mode ${shared.mode} for a shared hold`,
      )
      ensure(
        shared.holders === undefined || shared.holders === 2,
        `inspect reports ${shared.holders} holders for two shared holders`,
      )
      await Promise.all([r1.release(), r2.release()])
      const w = await a.acquire(key, { waitMs: ctx.timing.pollHandoffMs + waitMs })
      const exclusive = await b.inspect(key)
      ensure(exclusive.held, 'inspect says an exclusively held key is free')
      ensure(
        exclusive.mode === undefined || exclusive.mode === 'exclusive',
        `inspect reports mode ${exclusive.mode} for an exclusive hold`,
      )
      ensure(
        exclusive.fence === undefined || exclusive.fence === w.fence,
        `inspect shows fence ${exclusive.fence}, the holder has ${w.fence}`,
      )
      await w.release()
      const after = await b.inspect(key)
      ensure(!after.held, 'inspect says the key is held after every holder released')
    },
  },
  {
    group: 'shared locks',
    id: 'RS4',
    name: "RS4: a writer's release admits every reader queued behind it, together (no one grant per release, no lost wake-up)",
    async run(ctx) {
      const [writer, r1, r2] = await ctx.lockers(3, { ttlMs: ctx.timing.longTtlMs })
      const key = ctx.key()
      const held = await (writer as NonNullable<typeof writer>).acquire(key, {
        waitMs: ctx.timing.slackMs,
      })
      const boundMs = ctx.timing.pollHandoffMs + ctx.timing.slackMs
      const waitMs = 4 * boundMs + ctx.timing.timeoutWaitMs
      const readers = [r1, r2].map((r) =>
        settleTimed((r as NonNullable<typeof writer>).acquire(key, { mode: 'shared', waitMs })),
      )
      // both readers queue while the writer holds
      const early = await Promise.race([
        Promise.race(readers),
        delay(ctx.timing.timeoutWaitMs).then(() => null),
      ])
      ensure(early === null, 'R1: a reader was granted while the writer held the key')
      const releasedAtMs = performance.now()
      await held.release()
      const outcomes = await Promise.all(readers)
      const granted: LockHandle[] = []
      for (const [i, outcome] of outcomes.entries()) {
        if (outcome.ok) granted.push(outcome.value)
        else
          ensure(
            false,
            () =>
              `queued reader ${i + 1} failed after the writer's release: ${describeError(outcome.error)}`,
          )
      }
      try {
        for (const [i, outcome] of outcomes.entries()) {
          const afterMs = outcome.atMs - releasedAtMs
          ensure(
            afterMs <= boundMs,
            `queued reader ${i + 1} was granted ${Math.round(afterMs)} ms after the writer's release (bound ${boundMs} ms): only one reader is woken per release`,
          )
        }
        ensure(
          granted.every((g) => g.isValid()),
          'a reader lost its grant before both readers were in',
        )
        if (ctx.env.capabilities.inspect) {
          const info = await (writer as NonNullable<typeof writer>).inspect(key)
          ensure(
            info.holders === undefined || info.holders === 2,
            `inspect reports ${info.holders} holders while two readers hold the key`,
          )
        }
      } finally {
        await Promise.all(granted.map((g) => g.release()))
      }
    },
  },
]
