import type { HandoffOptions } from './scenarios/handoff.js'
import type { KeysOptions } from './scenarios/keys.js'
import type { ModesOptions } from './scenarios/modes.js'
import type { ScaleOptions } from './scenarios/scale.js'
import type { UncontendedOptions } from './scenarios/uncontended.js'

/** Sizes of every scenario for one kind of run. */
export interface Profile {
  readonly name: string
  /** Runs (the outer loop) when --runs is not given. */
  readonly runs: number
  /** Runs that include the scale scenario (the first ones): its figures are counts and bytes, not ratios. */
  readonly scaleRuns: number
  readonly uncontended: UncontendedOptions
  readonly keys: KeysOptions
  readonly handoff: HandoffOptions
  /** The shared-lock and semaphore scenarios (run where the driver declares the mode). */
  readonly modes: ModesOptions
  readonly scale: ScaleOptions
}

const HANDOFF_SHAPE = { holdMs: 1, pauseMs: 2, countAt: 4 }
const KEY_COUNTS = [1, 4, 16, 64]
// Holds of 5 ms, longer than a grant's round trips on every backend, so that holders can
// overlap at all: with the handoff's 1 ms, a permit is often given back before the next is
// granted, and neither sharing nor a limit shows.
const MODES_SHAPE = { holdMs: 5, pauseMs: 2, readers: [1, 2, 4, 8], limits: [2, 4] }

/** The run docs/benchmarks.md is made from (budget: 15 minutes on 2 quiet cores, plus the build). */
export const FULL: Profile = {
  name: 'full',
  runs: 3,
  scaleRuns: 1,
  uncontended: { warmupMs: 200, blockMs: 100, rounds: 10, maxLatencies: 20_000 },
  keys: { counts: KEY_COUNTS, warmupMs: 100, blockMs: 100, rounds: 4 },
  handoff: {
    ...HANDOFF_SHAPE,
    processes: [2, 4, 8, 16],
    warmupMs: 150,
    durationMs: 1_000,
    passes: 2,
    countMs: 600,
  },
  // 12 rounds per backend (about 11 s a run where a driver has both modes): shorter windows
  // than the handoff's keep the full run near its budget.
  modes: { ...MODES_SHAPE, warmupMs: 100, durationMs: 500 },
  scale: { keys: 10_000, ttlMs: 3_000, intervals: 3, concurrency: 100 },
}

/** `--quick`: everything runs once, with short windows and 1,000 keys (budget: 4 minutes). */
export const QUICK: Profile = {
  name: 'quick',
  runs: 1,
  scaleRuns: 1,
  uncontended: { warmupMs: 100, blockMs: 100, rounds: 5, maxLatencies: 5_000 },
  keys: { counts: KEY_COUNTS, warmupMs: 50, blockMs: 100, rounds: 2 },
  handoff: {
    ...HANDOFF_SHAPE,
    processes: [2, 4, 8, 16],
    warmupMs: 100,
    durationMs: 600,
    passes: 2,
    countMs: 400,
  },
  modes: { ...MODES_SHAPE, warmupMs: 100, durationMs: 600 },
  scale: { keys: 1_000, ttlMs: 3_000, intervals: 2, concurrency: 100 },
}

/** The smoke test's: proves each scenario runs, not how fast. */
export const TINY: Profile = {
  name: 'tiny',
  runs: 1,
  scaleRuns: 1,
  uncontended: { warmupMs: 10, blockMs: 20, rounds: 2, maxLatencies: 200 },
  keys: { counts: [1, 4], warmupMs: 10, blockMs: 20, rounds: 1 },
  handoff: {
    ...HANDOFF_SHAPE,
    processes: [2, 4],
    warmupMs: 100,
    durationMs: 300,
    passes: 1,
    countMs: 200,
  },
  modes: { ...MODES_SHAPE, readers: [1, 2], limits: [2], warmupMs: 100, durationMs: 300 },
  // The etcd and MySQL drivers refuse a TTL under 1 s.
  scale: { keys: 50, ttlMs: 1_500, intervals: 1, concurrency: 10 },
}
