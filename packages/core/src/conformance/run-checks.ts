import { ALL_CHECKS } from './all-checks.js'
import { type ConformanceCheck, defaultCheckTimeoutMs, skipReasonOf } from './check.js'
import { CheckContext, CheckSkipped } from './check-context.js'
import { prepareEnvironment } from './environment.js'
import type { ConformanceOptions, KitEnvironment } from './options.js'
import { withTimeout } from './wait-for.js'

/** The outcome of one check. */
export interface CheckResult {
  readonly group: ConformanceCheck['group']
  /** The check's stable id (`S2`, `R1`, `AQ1`, ...). */
  readonly id: string
  readonly name: string
  readonly status: 'passed' | 'failed' | 'skipped'
  /** Why it was skipped. */
  readonly reason?: string
  /** What failed: the check's error, or a cleanup failure. */
  readonly error?: unknown
  readonly durationMs: number
}

/** Options of `runChecks`. */
export interface RunChecksOptions {
  /** Runs only the checks this returns true for (e.g. one named check). Default: all. */
  readonly filter?: (check: ConformanceCheck) => boolean
  /** Called after each check, in run order (progress output of a CLI). */
  readonly onResult?: (result: CheckResult) => void
  /** The checks to run. Default: the whole kit. */
  readonly checks?: readonly ConformanceCheck[]
}

/** A kebab-case slug of a check's id and name, used in its keys so a leftover key says who left it. */
export function slugOf(check: ConformanceCheck): string {
  const words = check.name
    .replace(/^[A-Z]+\d*(?:\/[A-Z]+\d*)?:\s*/, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .slice(0, 24)
  return `${check.id.toLowerCase()}-${words}`.replace(/-+$/, '')
}

/**
 * Runs one check with a fresh context: bounded by its time budget, cleanup always runs,
 * and a cleanup failure fails a check that otherwise passed. Throws on failure; returns
 * the skip reason when the check skipped itself at run time.
 */
export async function runCheck(
  check: ConformanceCheck,
  env: KitEnvironment,
): Promise<string | undefined> {
  const ctx = new CheckContext(env, slugOf(check))
  const budgetMs = check.timeoutMs?.(env.timing) ?? defaultCheckTimeoutMs(env.timing)
  let failure: unknown
  let skipped: string | undefined
  try {
    await withTimeout(() => check.run(ctx), budgetMs, `check "${check.name}"`)
  } catch (err) {
    if (err instanceof CheckSkipped) skipped = err.reason
    else failure = err
  }
  const cleanupFailures = await ctx.cleanup()
  if (failure !== undefined) throw failure
  if (cleanupFailures.length > 0) {
    throw new Error(`cleanup after the check failed: ${cleanupFailures.join('; ')}`)
  }
  return skipped
}

/** The time budget `runConformance` gives a check's test: its own budget plus bounded cleanup. */
export function testTimeoutMs(check: ConformanceCheck, env: KitEnvironment): number {
  const t = env.timing
  const budgetMs = check.timeoutMs?.(t) ?? defaultCheckTimeoutMs(t)
  return budgetMs + 2 * (t.opTimeoutMs + t.slackMs + 5_000)
}

/**
 * Runs the kit without a test runner (for `baton conformance --url` and the kit's
 * self-test): probes the driver, then runs each check in order and reports each result.
 */
export async function runChecks(
  options: ConformanceOptions,
  run: RunChecksOptions = {},
): Promise<CheckResult[]> {
  const env = await prepareEnvironment(options)
  const results: CheckResult[] = []
  for (const check of run.checks ?? ALL_CHECKS) {
    if (run.filter && !run.filter(check)) continue
    const startMs = performance.now()
    const base = { group: check.group, id: check.id, name: check.name }
    let result: CheckResult
    const reason = skipReasonOf(check, env)
    if (reason !== undefined) {
      result = { ...base, status: 'skipped', reason, durationMs: 0 }
    } else {
      try {
        const selfSkip = await runCheck(check, env)
        const durationMs = performance.now() - startMs
        result =
          selfSkip === undefined
            ? { ...base, status: 'passed', durationMs }
            : { ...base, status: 'skipped', reason: selfSkip, durationMs }
      } catch (error) {
        result = { ...base, status: 'failed', error, durationMs: performance.now() - startMs }
      }
    }
    results.push(result)
    run.onResult?.(result)
  }
  return results
}
