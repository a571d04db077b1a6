import { randomInt } from 'node:crypto'
import type { LockMode } from '../../driver.js'
import type { LockHandle } from '../../lock-handle.js'
import type { Locker } from '../../locker.js'
import type { ConformanceCheck } from '../check.js'
import type { CheckContext } from '../check-context.js'
import { ensure } from '../conformance-failure.js'

const DRIVERS = 4
const INCREMENTS = 50
/** Operations per driver in the shared, semaphore and election fuzz. */
const OPERATIONS = 30
/** The semaphore fuzz's limit. */
const FUZZ_LIMIT = 2
/** Candidates and terms per candidate in the election fuzz. */
const CANDIDATES = 3
const TERMS = 12

interface Window {
  readonly worker: number
  readonly fence: bigint
  readonly startMs: number
  readonly endMs: number
}

/** Random short hold: 0 to 3 ms, sometimes only a microtask or an event-loop turn. */
function hold(): Promise<void> {
  const ms = randomInt(0, 5)
  if (ms === 4) return Promise.resolve()
  if (ms === 0) return new Promise((resolve) => setImmediate(resolve))
  return new Promise((resolve) => setTimeout(resolve, ms))
}

async function worker(
  id: number,
  locker: Locker,
  key: string,
  counter: { value: number },
  windows: Window[],
  waitMs: number,
): Promise<void> {
  for (let i = 0; i < INCREMENTS; i++) {
    const handle = await locker.acquire(key, { waitMs })
    const startMs = performance.now()
    const read = counter.value
    await hold()
    counter.value = read + 1
    const endMs = performance.now()
    windows.push({ worker: id, fence: handle.fence, startMs, endMs })
    await handle.release()
    if (randomInt(0, 3) === 0) await new Promise((resolve) => setImmediate(resolve))
  }
}

/** A grant as the fuzz saw it: from the acquire's resolution to just before its release. */
interface Span extends Window {
  readonly mode: LockMode
}

/** How long one fuzz acquire may wait: every other operation may come first. */
function fuzzWaitMs(ctx: CheckContext, operations: number): number {
  return 30_000 + operations * (ctx.timing.pollHandoffMs + ctx.timing.slackMs)
}

/**
 * One driver's share of a fuzz: `count` times take a grant with `take`, hold it for a
 * random short time (calling `inside` at its start), record its span, release it.
 */
async function spans(
  who: number,
  count: number,
  take: () => Promise<{ handle: LockHandle; release: () => Promise<void> }>,
  inside: (span: { who: number; fence: bigint; mode: LockMode }) => () => void,
  out: Span[],
): Promise<void> {
  for (let i = 0; i < count; i++) {
    const { handle, release } = await take()
    const startMs = performance.now()
    const leave = inside({ who, fence: handle.fence, mode: handle.mode })
    await hold()
    leave()
    const endMs = performance.now()
    out.push({ worker: who, fence: handle.fence, mode: handle.mode, startMs, endMs })
    await release()
    if (randomInt(0, 3) === 0) await new Promise((resolve) => setImmediate(resolve))
  }
}

/**
 * The violations among `all` grants of one key: an exclusive span overlapping any other,
 * and, where one of two disjoint spans is exclusive, a later span without a higher fence
 * (F1; two shared spans may see their grants in either order).
 */
function lockViolations(all: readonly Span[]): string[] {
  const sorted = [...all].sort((x, y) => x.startMs - y.startMs)
  const out: string[] = []
  for (let i = 0; i < sorted.length; i++) {
    const a = sorted[i] as Span
    for (let j = i + 1; j < sorted.length; j++) {
      const b = sorted[j] as Span
      if (a.mode !== 'exclusive' && b.mode !== 'exclusive') continue
      if (b.startMs < a.endMs) {
        out.push(
          `R1: ${b.mode} fence ${b.fence} (driver ${b.worker}) began inside ${a.mode} fence ${a.fence} (driver ${a.worker})`,
        )
      } else if (b.fence <= a.fence) {
        out.push(
          `F1: ${b.mode} fence ${b.fence} granted after ${a.mode} fence ${a.fence} was released`,
        )
      }
    }
  }
  return out
}

/** N drivers x M read-modify-write increments of a plain in-memory counter. */
export const fuzzChecks: readonly ConformanceCheck[] = [
  {
    group: 'contention fuzz',
    id: 'S1-S3',
    name: `S1/S3: ${DRIVERS} drivers x ${INCREMENTS} read-modify-write increments: exact count, no overlapping windows, fences increasing in grant order`,
    timeoutMs: (t) => 120_000 + 10 * t.pollHandoffMs,
    async run(ctx) {
      const lockers = await ctx.lockers(DRIVERS, { ttlMs: ctx.timing.longTtlMs })
      const key = ctx.key()
      const counter = { value: 0 }
      const windows: Window[] = []
      const waitMs = 60_000 + 10 * ctx.timing.pollHandoffMs
      await Promise.all(lockers.map((l, i) => worker(i, l, key, counter, windows, waitMs)))
      const total = DRIVERS * INCREMENTS
      windows.sort((x, y) => x.startMs - y.startMs)
      const overlaps: string[] = []
      for (let i = 1; i < windows.length; i++) {
        const prev = windows[i - 1] as Window
        const cur = windows[i] as Window
        if (cur.startMs < prev.endMs)
          overlaps.push(
            `fence ${cur.fence} (driver ${cur.worker}) began inside fence ${prev.fence} (driver ${prev.worker})`,
          )
        if (cur.fence <= prev.fence) overlaps.push(`fence ${cur.fence} granted after ${prev.fence}`)
      }
      ensure(
        counter.value === total,
        `counter is ${counter.value} after ${total} locked increments: ${total - counter.value} lost updates`,
      )
      ensure(windows.length === total, `internal: ${windows.length} windows recorded`)
      ensure(
        overlaps.length === 0,
        `${overlaps.length} ordering violations, e.g. ${overlaps.slice(0, 3).join('; ')}`,
      )
    },
  },
  {
    group: 'contention fuzz',
    id: 'R1-F1',
    name: `R1/F1: ${DRIVERS} drivers x ${OPERATIONS} random shared and exclusive holds of one key: no exclusive holder beside another, fences increasing across modes`,
    skip: (env) => (env.capabilities.sharedLocks ? undefined : 'capabilities.sharedLocks is false'),
    timeoutMs: (t) => 60_000 + 2 * DRIVERS * OPERATIONS * (t.pollHandoffMs + t.slackMs),
    async run(ctx) {
      const lockers = await ctx.lockers(DRIVERS, { ttlMs: ctx.timing.longTtlMs })
      const key = ctx.key()
      const waitMs = fuzzWaitMs(ctx, DRIVERS * OPERATIONS)
      const held = { exclusive: 0, shared: 0 }
      const seen: string[] = []
      const out: Span[] = []
      await Promise.all(
        lockers.map((locker, who) =>
          spans(
            who,
            OPERATIONS,
            async () => {
              const mode = randomInt(0, 3) === 0 ? 'exclusive' : 'shared'
              const handle = await locker.acquire(key, { mode, waitMs })
              return { handle, release: () => handle.release() }
            },
            (span) => {
              const m = span.mode === 'exclusive' ? 'exclusive' : 'shared'
              held[m]++
              if (held.exclusive > 1 || (held.exclusive === 1 && held.shared > 0)) {
                seen.push(
                  `R1: ${held.exclusive} exclusive and ${held.shared} shared holders at once (fence ${span.fence})`,
                )
              }
              return () => {
                held[m]--
              }
            },
            out,
          ),
        ),
      )
      seen.push(...lockViolations(out))
      ensure(out.length === DRIVERS * OPERATIONS, `internal: ${out.length} spans recorded`)
      ensure(seen.length === 0, `${seen.length} violations, e.g. ${seen.slice(0, 3).join('; ')}`)
    },
  },
  {
    group: 'contention fuzz',
    id: 'M1c',
    name: `M1: ${DRIVERS} drivers x ${OPERATIONS} permits of a limit-${FUZZ_LIMIT} semaphore: never more than ${FUZZ_LIMIT} holders, every fence new`,
    skip: (env) => (env.capabilities.semaphores ? undefined : 'capabilities.semaphores is false'),
    timeoutMs: (t) => 60_000 + 2 * DRIVERS * OPERATIONS * (t.pollHandoffMs + t.slackMs),
    async run(ctx) {
      const lockers = await ctx.lockers(DRIVERS, { ttlMs: ctx.timing.longTtlMs })
      const key = ctx.key()
      const waitMs = fuzzWaitMs(ctx, DRIVERS * OPERATIONS)
      let holders = 0
      let most = 0
      const seen: string[] = []
      const out: Span[] = []
      await Promise.all(
        lockers.map((locker, who) => {
          const semaphore = locker.semaphore(key, { limit: FUZZ_LIMIT })
          return spans(
            who,
            OPERATIONS,
            async () => {
              const handle = await semaphore.acquire({ waitMs })
              return { handle, release: () => handle.release() }
            },
            (span) => {
              holders++
              most = Math.max(most, holders)
              if (holders > FUZZ_LIMIT)
                seen.push(`M1: ${holders} permits held at once (fence ${span.fence})`)
              return () => {
                holders--
              }
            },
            out,
          )
        }),
      )
      const fences = new Set(out.map((s) => s.fence))
      if (fences.size !== out.length)
        seen.push(`F1: ${out.length - fences.size} permit fences were reused`)
      ensure(out.length === DRIVERS * OPERATIONS, `internal: ${out.length} spans recorded`)
      ensure(seen.length === 0, `${seen.length} violations, e.g. ${seen.slice(0, 3).join('; ')}`)
      ensure(most >= 1, 'internal: no permit was ever held')
    },
  },
  {
    group: 'contention fuzz',
    id: 'E1c',
    name: `E1: ${CANDIDATES} candidates x ${TERMS} terms campaigning at random: exactly one leader at a time, fences increasing term by term`,
    timeoutMs: (t) => 60_000 + 2 * CANDIDATES * TERMS * (t.pollHandoffMs + t.slackMs),
    async run(ctx) {
      const lockers = await ctx.lockers(CANDIDATES, { ttlMs: ctx.timing.longTtlMs })
      const key = ctx.key()
      const waitMs = fuzzWaitMs(ctx, CANDIDATES * TERMS)
      const elections = lockers.map((l, i) => l.election(key, { value: `fuzz-${i}` }))
      let leaders = 0
      const seen: string[] = []
      const out: Span[] = []
      await Promise.all(
        elections.map((election, who) =>
          spans(
            who,
            TERMS,
            async () => {
              const handle = await election.campaign({ waitMs })
              return { handle, release: () => election.resign() }
            },
            (span) => {
              leaders++
              if (leaders > 1) seen.push(`E1: ${leaders} leaders at once (fence ${span.fence})`)
              const saying = elections.filter((e) => e.isLeader()).length
              if (saying !== 1) seen.push(`E1: ${saying} candidates said isLeader() at once`)
              return () => {
                leaders--
              }
            },
            out,
          ),
        ),
      )
      seen.push(...lockViolations(out))
      ensure(out.length === CANDIDATES * TERMS, `internal: ${out.length} terms recorded`)
      ensure(seen.length === 0, `${seen.length} violations, e.g. ${seen.slice(0, 3).join('; ')}`)
    },
  },
]
