import type { HandoffOptions } from './scenarios/handoff.js'
import type { ScaleOptions } from './scenarios/scale.js'
import type { UncontendedOptions } from './scenarios/uncontended.js'

/** Sizes of every scenario for one kind of run. */
export interface Profile {
  readonly name: string
  readonly uncontended: UncontendedOptions
  readonly handoff: HandoffOptions
  readonly scale: ScaleOptions
}

const HANDOFF_SHAPE = { workers: 4, holdMs: 1, pauseMs: 2 }

/** The run docs/benchmarks.md is made from (about 6 minutes on 2 quiet cores, plus the build). */
export const FULL: Profile = {
  name: 'full',
  uncontended: { warmupMs: 300, durationMs: 2_000, maxCycles: 200_000 },
  handoff: { ...HANDOFF_SHAPE, durationMs: 8_000 },
  scale: { keys: 10_000, ttlMs: 3_000, intervals: 3, concurrency: 100 },
}

/** `--quick`: everything runs, with short windows and 1,000 keys (under 3 minutes). */
export const QUICK: Profile = {
  name: 'quick',
  uncontended: { warmupMs: 100, durationMs: 400, maxCycles: 50_000 },
  handoff: { ...HANDOFF_SHAPE, durationMs: 2_000 },
  scale: { keys: 1_000, ttlMs: 3_000, intervals: 2, concurrency: 100 },
}

/** The smoke test's: proves each scenario runs, not how fast. */
export const TINY: Profile = {
  name: 'tiny',
  uncontended: { warmupMs: 10, durationMs: 50, maxCycles: 200 },
  handoff: { ...HANDOFF_SHAPE, durationMs: 400 },
  scale: { keys: 50, ttlMs: 600, intervals: 1, concurrency: 10 },
}
