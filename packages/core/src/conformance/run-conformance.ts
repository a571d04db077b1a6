import { describe, it } from 'vitest'
import { ALL_CHECKS } from './all-checks.js'
import { CHECK_GROUPS } from './check.js'
import { prepareEnvironment } from './environment.js'
import type { ConformanceOptions, KitEnvironment } from './options.js'
import { runCheck, testTimeoutMs } from './run-checks.js'

/**
 * Registers the conformance kit for one driver with vitest: one `describe` per group,
 * one test per check, each named after the invariant it checks. Call it at the top level
 * of a test file; `createDriver` must return a fresh, independent driver on every call.
 * Groups and checks that do not apply to the driver's capabilities (or need a fault hook
 * not given) show as skipped with the reason in their name.
 */
export function runConformance(options: ConformanceOptions): void {
  // Capabilities decide which groups run, so one probe driver is created while vitest
  // collects (an async describe is awaited during collection). Sequential even under
  // `sequence.concurrent`: latency and hygiene checks measure the whole process.
  describe.sequential(`conformance: ${String(options?.name)}`, async () => {
    let env: KitEnvironment
    try {
      env = await prepareEnvironment(options)
    } catch (err) {
      it('createDriver() returns a driver with capabilities', () => {
        throw err
      })
      return
    }
    for (const { group, skip } of CHECK_GROUPS) {
      const checks = ALL_CHECKS.filter((c) => c.group === group)
      const groupSkip = skip?.(env)
      if (groupSkip !== undefined) {
        describe.skip(`${group}: skipped — ${groupSkip}`, () => {
          for (const check of checks) it(check.name, () => {})
        })
        continue
      }
      describe(group, () => {
        for (const check of checks) {
          const reason = check.skip?.(env)
          if (reason !== undefined) {
            it.skip(`${check.name} — skipped: ${reason}`, () => {})
            continue
          }
          it(
            check.name,
            async (testCtx) => {
              const selfSkip = await runCheck(check, env)
              if (selfSkip !== undefined) testCtx.skip(selfSkip)
            },
            testTimeoutMs(check, env),
          )
        }
      })
    }
  })
}
