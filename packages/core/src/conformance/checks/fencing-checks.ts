import type { Locker } from '../../locker.js'
import type { ConformanceCheck } from '../check.js'
import { ensure } from '../conformance-failure.js'
import { expectIncreasing } from './support.js'

async function fenceOf(locker: Locker, key: string, waitMs: number): Promise<bigint> {
  const handle = await locker.acquire(key, { waitMs })
  await handle.release()
  return handle.fence
}

/** S3: fences strictly increase per key across holders and drivers; keys do not interfere. */
export const fencingChecks: readonly ConformanceCheck[] = [
  {
    group: 'fencing',
    id: 'S3',
    name: 'S3: fences strictly increase across successive holders on one driver',
    async run(ctx) {
      const driver = await ctx.driver()
      const a = await ctx.locker({}, driver)
      const b = await ctx.locker({}, driver)
      const key = ctx.key()
      const fences: bigint[] = []
      for (let i = 0; i < 6; i++)
        fences.push(await fenceOf(i % 3 === 2 ? b : a, key, ctx.timing.slackMs))
      expectIncreasing(fences, 'successive holders on one driver')
    },
  },
  {
    group: 'fencing',
    id: 'S3b',
    name: 'S3: fences strictly increase across holders on different drivers',
    async run(ctx) {
      const lockers = await ctx.lockers(3)
      const key = ctx.key()
      const fences: bigint[] = []
      for (let i = 0; i < 9; i++) {
        fences.push(await fenceOf(lockers[i % 3] as Locker, key, ctx.timing.slackMs))
      }
      expectIncreasing(fences, 'holders alternating between three drivers')
    },
  },
  {
    group: 'fencing',
    id: 'S3c',
    name: "S3: fences of different keys do not interfere: each key's fences increase while the keys interleave",
    async run(ctx) {
      const [a, b] = await ctx.lockers(2)
      const one = ctx.key('one')
      const two = ctx.key('two')
      const fences = new Map<string, bigint[]>([
        [one, []],
        [two, []],
      ])
      for (let i = 0; i < 4; i++) {
        // Both keys held at once, from different drivers, swapping drivers each round.
        const [x, y] = i % 2 === 0 ? [a, b] : [b, a]
        const h1 = await x.acquire(one, { waitMs: ctx.timing.slackMs })
        const h2 = await y.acquire(two, { waitMs: ctx.timing.slackMs })
        fences.get(one)?.push(h1.fence)
        fences.get(two)?.push(h2.fence)
        await Promise.all([h1.release(), h2.release()])
        if (i % 2 === 1) fences.get(one)?.push(await fenceOf(a, one, ctx.timing.slackMs))
      }
      expectIncreasing(fences.get(one) ?? [], `key ${one} interleaved with ${two}`)
      expectIncreasing(fences.get(two) ?? [], `key ${two} interleaved with ${one}`)
      ensure((fences.get(one)?.length ?? 0) === 6, 'internal: expected 6 fences for the first key')
    },
  },
]
