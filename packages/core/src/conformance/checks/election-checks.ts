import type { Election } from '../../election.js'
import type { ConformanceCheck } from '../check.js'
import type { CheckContext } from '../check-context.js'
import { describeError, ensure, expectLockError } from '../conformance-failure.js'
import { delay, settleTimed } from '../wait-for.js'
import { tryOnce } from './support.js'

const CANDIDATES = 3
const ROUNDS = 4

/** The bound for a waiting candidate to lead after the leader lets go. */
function takeoverBoundMs(ctx: CheckContext): number {
  return ctx.timing.pollHandoffMs + ctx.timing.slackMs
}

/** Fails unless `election` does not lead for `ms` (its campaign stays pending). */
async function expectStillWaiting(
  campaign: Promise<unknown>,
  election: Election,
  ms: number,
  what: string,
): Promise<void> {
  const early = await Promise.race([campaign.then(() => 'settled'), delay(ms).then(() => null)])
  ensure(early === null && !election.isLeader(), `E1: ${what}: a second candidate became leader`)
}

/** E1 over the election API; runs on every driver (an election is the exclusive lock with a value). */
export const electionChecks: readonly ConformanceCheck[] = [
  {
    group: 'elections',
    id: 'E1',
    name: `E1: of ${CANDIDATES} drivers campaigning in ${ROUNDS} rounds each, exactly one leads at a time (windows never overlap, fences increase)`,
    timeoutMs: (t) => 20_000 + CANDIDATES * ROUNDS * (t.pollHandoffMs + t.slackMs),
    async run(ctx) {
      const lockers = await ctx.lockers(CANDIDATES, { ttlMs: ctx.timing.longTtlMs })
      const key = ctx.key()
      const elections = lockers.map((l, i) => l.election(key, { value: `candidate-${i}` }))
      const windows: Array<{ who: number; fence: bigint; startMs: number; endMs: number }> = []
      const seen: string[] = []
      const waitMs = CANDIDATES * ROUNDS * (ctx.timing.pollHandoffMs + ctx.timing.slackMs)
      await Promise.all(
        elections.map(async (election, who) => {
          for (let round = 0; round < ROUNDS; round++) {
            const leadership = await election.campaign({ waitMs })
            const startMs = performance.now()
            const leaders = elections.filter((e) => e.isLeader()).length
            if (leaders !== 1) seen.push(`${leaders} candidates said isLeader() at once`)
            await delay(3)
            const endMs = performance.now()
            windows.push({ who, fence: leadership.fence, startMs, endMs })
            await election.resign()
            ensure(!election.isLeader(), 'isLeader() is true after resign()')
          }
        }),
      )
      windows.sort((x, y) => x.startMs - y.startMs)
      for (let i = 1; i < windows.length; i++) {
        const prev = windows[i - 1] as (typeof windows)[number]
        const cur = windows[i] as (typeof windows)[number]
        if (cur.startMs < prev.endMs) {
          seen.push(`candidate ${cur.who} (fence ${cur.fence}) led inside ${prev.who}'s term`)
        }
        if (cur.fence <= prev.fence) seen.push(`fence ${cur.fence} led after ${prev.fence}`)
      }
      ensure(windows.length === CANDIDATES * ROUNDS, `internal: ${windows.length} terms recorded`)
      ensure(
        seen.length === 0,
        `E1: ${seen.length} violations, e.g. ${seen.slice(0, 3).join('; ')}`,
      )
    },
  },
  {
    group: 'elections',
    id: 'E1b',
    name: 'E1: leader() names the current leader (its value where the backend stores it, fence, owner) and null when nobody leads',
    skip: (env) => (env.capabilities.inspect ? undefined : 'capabilities.inspect is false'),
    async run(ctx) {
      const [a, b] = await ctx.lockers(2, { ttlMs: ctx.timing.longTtlMs })
      const key = ctx.key()
      const ea = a.election(key, { value: 'leader-a:8080' })
      const eb = b.election(key, { value: 'leader-b:8080' })
      ensure((await eb.leader()) === null, 'leader() names a leader before anyone campaigned')
      const leadership = await ea.campaign({ waitMs: ctx.timing.slackMs })
      ensure(ea.isLeader() && !eb.isLeader(), 'isLeader() is wrong on the leader or the follower')
      ensure(ea.leadership === leadership, 'election.leadership is not the campaign result')
      const info = await eb.leader()
      ensure(info !== null, "leader() from another driver says nobody leads while 'a' does")
      ensure(
        info.value === undefined || info.value === 'leader-a:8080',
        `leader() reports value ${JSON.stringify(info.value)}, the leader advertises "leader-a:8080"`,
      )
      ensure(
        info.fence === undefined || info.fence === leadership.fence,
        `leader() reports fence ${info.fence}, the leadership has ${leadership.fence}`,
      )
      ensure(
        info.owner === undefined || info.owner === leadership.owner,
        "leader() reports another owner than the leadership's",
      )
      await ea.resign()
      ensure(!ea.isLeader(), 'isLeader() is true after resign()')
      ensure((await eb.leader()) === null, 'leader() names a leader after the leader resigned')
    },
  },
  {
    group: 'elections',
    id: 'EL1',
    name: "a waiting candidate leads after the leader resigns, and after the leader's Locker closes, each within the handoff bound",
    async run(ctx) {
      const [a, b, c] = await ctx.lockers(3, { ttlMs: ctx.timing.longTtlMs })
      const key = ctx.key()
      const [ea, eb, ec] = [a, b, c].map((l, i) => l.election(key, { value: `c${i}` })) as [
        Election,
        Election,
        Election,
      ]
      const bound = takeoverBoundMs(ctx)
      const first = await ea.campaign({ waitMs: ctx.timing.slackMs })
      const second = settleTimed(eb.campaign({ waitMs: 10 * bound }))
      await expectStillWaiting(second, eb, ctx.timing.timeoutWaitMs, 'while the first leads')
      const resignedAtMs = performance.now()
      await ea.resign()
      const won = await second
      ensure(won.ok, () => `no takeover after resign(): ${describeError(!won.ok && won.error)}`)
      ensure(
        won.atMs - resignedAtMs <= bound,
        `the waiting candidate led ${Math.round(won.atMs - resignedAtMs)} ms after resign() (bound ${bound} ms)`,
      )
      ensure(won.value.fence > first.fence, `fence ${won.value.fence} after ${first.fence}`)
      const third = settleTimed(ec.campaign({ waitMs: 10 * bound }))
      await expectStillWaiting(third, ec, ctx.timing.timeoutWaitMs, 'while the second leads')
      const closedAtMs = performance.now()
      await b.close()
      ensure(!eb.isLeader(), "isLeader() is true after the leader's Locker closed")
      const took = await third
      ensure(took.ok, () => `no takeover after close(): ${describeError(!took.ok && took.error)}`)
      ensure(
        took.atMs - closedAtMs <= bound,
        `the waiting candidate led ${Math.round(took.atMs - closedAtMs)} ms after the leader's Locker closed (bound ${bound} ms)`,
      )
      ensure(
        took.value.fence > won.value.fence,
        `fence ${took.value.fence} after ${won.value.fence}`,
      )
      await ec.resign()
    },
  },
  {
    group: 'elections',
    id: 'EL2',
    name: 'an election on a key and acquire() of that key are one lock: each keeps the other out',
    async run(ctx) {
      const [a, b] = await ctx.lockers(2, { ttlMs: ctx.timing.longTtlMs })
      const key = ctx.key()
      const election = a.election(key, { value: 'x' })
      await election.campaign({ waitMs: ctx.timing.slackMs })
      const intruder = await tryOnce(b, key)
      if (intruder !== null) await intruder.release()
      ensure(intruder === null, 'acquire() of the key got it while a candidate leads')
      await election.resign()
      const held = await b.acquire(key, { waitMs: takeoverBoundMs(ctx) })
      await expectLockError(
        election.campaign({ waitMs: ctx.timing.timeoutWaitMs }),
        'LOCK_TIMEOUT',
        'a campaign while another driver holds the key',
      )
      ensure(!election.isLeader(), 'the candidate leads while another driver holds the key')
      await held.release()
    },
  },
]
