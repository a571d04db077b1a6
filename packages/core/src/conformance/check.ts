import type { CheckContext } from './check-context.js'
import type { KitEnvironment } from './options.js'
import type { KitTiming } from './timing.js'

/** The kit's groups, in the order they run; each is one `describe`. */
export type CheckGroup =
  | 'acquire'
  | 'exclusion'
  | 'non-reentrancy'
  | 'waiting'
  | 'abort'
  | 'release and ownership'
  | 'expiry'
  | 'renewal'
  | 'loss'
  | 'fencing'
  | 'keys'
  | 'lifecycle'
  | 'hygiene'
  | 'shared locks'
  | 'semaphores'
  | 'elections'
  | 'key sets'
  | 'contention fuzz'

/** One named invariant check. `runConformance` registers it as a test; `runChecks` runs it without a test runner. */
export interface ConformanceCheck {
  /** The `describe` it belongs to. */
  readonly group: CheckGroup
  /**
   * Stable id: the invariant it checks (`S2`, `L3`), with a letter for the second and later
   * checks of one invariant (`S2b`), or its group's letters and a number (`AQ1`, `LC3`).
   * Filter and report by it; names may be reworded.
   */
  readonly id: string
  /** Says which invariant broke when it fails, e.g. "S2: stale holder's release does not free the successor's lock". */
  readonly name: string
  /** Why the check does not apply to this driver (shown as the skip reason), or undefined when it does. */
  skip?(env: KitEnvironment): string | undefined
  /** Upper bound of the check's run time in ms. Default: 10 s plus the long TTL's slack. */
  timeoutMs?(timing: KitTiming): number
  /** Runs the check; throws (a `ConformanceFailure` or any error) when the invariant does not hold. */
  run(ctx: CheckContext): Promise<void>
}

/** A group and why it does not apply, when it does not. */
export interface GroupInfo {
  readonly group: CheckGroup
  skip?(env: KitEnvironment): string | undefined
}

/** Every group in run order, with the group-wide skip reasons. */
export const CHECK_GROUPS: readonly GroupInfo[] = [
  { group: 'acquire' },
  { group: 'exclusion' },
  { group: 'non-reentrancy' },
  { group: 'waiting' },
  { group: 'abort' },
  { group: 'release and ownership' },
  { group: 'expiry' },
  { group: 'renewal' },
  {
    group: 'loss',
    skip: (env) => (env.options.faults?.dropLock ? undefined : 'no faults.dropLock given'),
  },
  { group: 'fencing' },
  { group: 'keys' },
  { group: 'lifecycle' },
  { group: 'hygiene' },
  {
    group: 'shared locks',
    skip: (env) => (env.capabilities.sharedLocks ? undefined : 'capabilities.sharedLocks is false'),
  },
  {
    group: 'semaphores',
    skip: (env) => (env.capabilities.semaphores ? undefined : 'capabilities.semaphores is false'),
  },
  { group: 'elections' },
  { group: 'key sets' },
  { group: 'contention fuzz' },
]

/** Default time budget of a check. */
export function defaultCheckTimeoutMs(timing: KitTiming): number {
  return 10_000 + 4 * timing.slackMs + 3 * timing.renewTtlMs
}

/** Why `check` is skipped for `env` (its group's reason first), or undefined when it runs. */
export function skipReasonOf(check: ConformanceCheck, env: KitEnvironment): string | undefined {
  const group = CHECK_GROUPS.find((g) => g.group === check.group)
  return group?.skip?.(env) ?? check.skip?.(env)
}
