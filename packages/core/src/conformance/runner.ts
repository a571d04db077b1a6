// The vitest-free entry of the kit (for `baton conformance --url` and other runners):
// everything in index.ts except `runConformance`, so importing it never loads vitest.

export { ALL_CHECKS } from './all-checks.js'
export type { CheckGroup, ConformanceCheck, GroupInfo } from './check.js'
export { CHECK_GROUPS } from './check.js'
export type { RawAcquireOptions } from './check-context.js'
export { CheckContext, CheckSkipped } from './check-context.js'
export { ConformanceFailure } from './conformance-failure.js'
export type {
  ConformanceFaults,
  ConformanceOptions,
  DroppableLock,
  KitEnvironment,
} from './options.js'
export type { CheckResult, RunChecksOptions } from './run-checks.js'
export { runChecks } from './run-checks.js'
export type { KitTiming } from './timing.js'
export { kitTiming } from './timing.js'
export type { WaitForOptions } from './wait-for.js'
export { waitFor } from './wait-for.js'
