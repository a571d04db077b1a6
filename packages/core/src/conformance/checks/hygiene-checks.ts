import { Locker } from '../../locker.js'
import type { ConformanceCheck } from '../check.js'
import { ensure } from '../conformance-failure.js'
import { settleTimed, waitFor } from '../wait-for.js'

/** Counts of the resources keeping the event loop alive, by type (timers, sockets, ...). */
function activeResources(): Map<string, number> {
  const counts = new Map<string, number>()
  for (const type of process.getActiveResourcesInfo()) counts.set(type, (counts.get(type) ?? 0) + 1)
  return counts
}

/** The resource types with more instances now than in `baseline`, as "Type +n". */
function excessOver(baseline: Map<string, number>): string[] {
  const out: string[] = []
  for (const [type, n] of activeResources()) {
    const extra = n - (baseline.get(type) ?? 0)
    if (extra > 0) out.push(`${type} +${extra}`)
  }
  return out
}

/** H1: nothing is left behind after release and close. */
export const hygieneChecks: readonly ConformanceCheck[] = [
  {
    group: 'hygiene',
    id: 'H1b',
    name: "H1: inspect reports the holder's fence while held and the key free after release",
    skip: (env) => (env.capabilities.inspect ? undefined : 'capabilities.inspect is false'),
    async run(ctx) {
      const driver = await ctx.driver()
      const [a, b] = [await ctx.locker({}, driver), await ctx.locker()]
      const key = ctx.key()
      const ttlMs = ctx.timing.longTtlMs
      const before = await b.inspect(key)
      ensure(before.held === false, 'inspect says a never-used key is held')
      const handle = await a.acquire(key, { ttlMs, waitMs: ctx.timing.slackMs })
      const info = await b.inspect(key)
      ensure(info.held === true, 'inspect from another driver says a held key is free')
      if (info.fence !== undefined)
        ensure(
          info.fence === handle.fence,
          `inspect shows fence ${info.fence}, the holder has ${handle.fence}`,
        )
      if (info.ttlRemainingMs !== undefined) {
        ensure(
          info.ttlRemainingMs > 0 && info.ttlRemainingMs <= ttlMs + ctx.timing.resolutionMs,
          `inspect shows ttlRemainingMs ${info.ttlRemainingMs} for a lease of ${ttlMs} ms`,
        )
      }
      await handle.release()
      const after = await b.inspect(key)
      ensure(after.held === false, 'inspect says the key is still held after release()')
      const raw = await driver.inspect?.(ctx.nsKey(key))
      ensure(
        raw === null || raw?.held === false,
        'driver.inspect of a released key is neither null nor { held: false }',
      )
    },
  },
  {
    group: 'hygiene',
    id: 'H1c',
    name: 'H1: after release and close no timer or socket of the driver stays active, and inspect says free',
    timeoutMs: (t) => 20_000 + 3 * t.slackMs + t.pollHandoffMs,
    async run(ctx) {
      const baseline = activeResources()
      const key = ctx.key()
      // closeDriver defaults to true: each Locker closes its own driver, as applications do.
      const a = new Locker(await ctx.env.options.createDriver(), { namespace: ctx.env.namespace })
      ctx.defer('close Locker a', () => a.close())
      const b = new Locker(await ctx.env.options.createDriver(), { namespace: ctx.env.namespace })
      ctx.defer('close Locker b', () => b.close())
      const held = await a.acquire(key, {
        ttlMs: ctx.timing.renewTtlMs,
        waitMs: ctx.timing.slackMs,
      })
      const waiting = settleTimed(b.acquire(key, { waitMs: 10 * ctx.timing.pollHandoffMs }))
      await held.extend()
      await held.release()
      const outcome = await waiting
      ensure(outcome.ok, 'the waiter did not get the key after the release')
      const again = await a.acquire(ctx.key('second'), { waitMs: ctx.timing.slackMs })
      await outcome.value.release()
      await again.release()
      await Promise.all([a.close(), b.close()])
      if (ctx.caps.inspect) {
        const probe = new Locker(await ctx.env.options.createDriver(), {
          namespace: ctx.env.namespace,
        })
        try {
          const info = await probe.inspect(key)
          ensure(info.held === false, 'inspect says the key is held after release and close')
        } finally {
          await probe.close()
        }
      }
      const boundMs = ctx.timing.slackMs + ctx.timing.pollHandoffMs
      await waitFor(() => excessOver(baseline).length === 0, {
        timeoutMs: boundMs,
        intervalMs: 20,
      }).catch(() => {
        const excess = excessOver(baseline)
        ensure(
          excess.length === 0,
          `${boundMs} ms after close(), resources beyond the baseline are still active: ${excess.join(', ')}`,
        )
      })
    },
  },
]
