import type { ScenarioName } from './args.js'
import type { BackendSpec, RunningBackend } from './backend-spec.js'
import {
  BACKENDS,
  backendNamed,
  batonOf,
  handoffContenders,
  handoffGroup,
  pairedFloorOf,
  uncontendedContenders,
} from './backends.js'
import type { BackendTarget, ContenderSpec } from './lock-client.js'
import { type LoadWindow, loadWindow } from './machine.js'
import type { Profile } from './profile.js'
import { Results } from './results.js'
import { countHandoff, handoffScenario, runHandoffs } from './scenarios/handoff.js'
import { runKeys } from './scenarios/keys.js'
import { runSemaphore, runShared } from './scenarios/modes.js'
import { runScale } from './scenarios/scale.js'
import { runUncontended } from './scenarios/uncontended.js'
import { WorkerPool } from './scenarios/worker-pool.js'

/** What to run. */
export interface BenchmarkPlan {
  readonly backends?: readonly string[] | undefined
  readonly scenarios: readonly ScenarioName[]
  /** Runs (the outer loop); the profile's own count when undefined. */
  readonly runs?: number | undefined
  readonly profile: Profile
  /** Progress lines (stderr in the CLI). */
  readonly log?: (line: string) => void
}

/** A backend that took part, or why it could not. */
export interface BackendOutcome {
  readonly name: string
  readonly running?: RunningBackend
  readonly error?: string
}

/** Everything a finished run knows. */
export interface BenchmarkReport {
  readonly results: Results
  readonly backends: readonly BackendOutcome[]
  readonly plan: BenchmarkPlan
  /** Runs done. */
  readonly runs: number
  /** The machine's load over each run and over the whole benchmark (last). */
  readonly load: readonly LoadWindow[]
}

/**
 * Starts the selected backends, then runs every scenario `runs` times. Runs are the outer
 * loop, so that every contender sees the same drift of a shared machine; a failing
 * contender is recorded in its rows and the run goes on. Servers are stopped at the end.
 * The machine's busy share (/proc/stat) and load average are recorded for every run.
 */
export async function runBenchmark(plan: BenchmarkPlan): Promise<BenchmarkReport> {
  const log = plan.log ?? (() => {})
  const specs = plan.backends === undefined ? [...BACKENDS] : plan.backends.map(backendNamed)
  const runs = plan.runs ?? plan.profile.runs
  const outcomes: BackendOutcome[] = []
  const results = new Results()
  const load: LoadWindow[] = []
  const whole = loadWindow('whole benchmark')
  const pool = new WorkerPool()
  try {
    for (const spec of specs) {
      log(`starting ${spec.name}`)
      try {
        outcomes.push({ name: spec.name, running: await spec.start() })
      } catch (err) {
        log(`could not start ${spec.name}: ${String(err)}`)
        outcomes.push({ name: spec.name, error: err instanceof Error ? err.message : String(err) })
      }
    }
    const live = outcomes.flatMap((o) => {
      const spec = specs.find((s) => s.name === o.name) as BackendSpec
      return o.running === undefined ? [] : [{ spec, running: o.running }]
    })
    const liveTargets = live.map((l) => ({ spec: l.spec, target: l.running.target }))
    for (let run = 1; run <= runs; run++) {
      results.beginRun(run)
      const window = loadWindow(`run ${run}`)
      for (const scenario of plan.scenarios) {
        if (scenario === 'scale' && run > plan.profile.scaleRuns) continue
        for (const { spec, running } of live) {
          const context = {
            profile: plan.profile,
            results,
            pool,
            log: (line: string) => log(`run ${run}/${runs} ${line}`),
            live: liveTargets,
          }
          await runScenario(scenario, spec, running.target, context)
        }
      }
      const w = window()
      load.push(w)
      log(
        `run ${run}/${runs} done in ${w.seconds.toFixed(0)} s, machine busy ${w.busyPct.toFixed(0)}%`,
      )
    }
    load.push(whole())
    return { results, backends: outcomes, plan, runs, load }
  } finally {
    await pool.close()
    for (const o of outcomes) await o.running?.stop().catch(() => {})
  }
}

interface ScenarioContext {
  readonly profile: Profile
  readonly results: Results
  readonly pool: WorkerPool
  readonly log: (line: string) => void
  /** Every backend that is running, so that a handoff can run its reference's floor beside it. */
  readonly live: readonly { readonly spec: BackendSpec; readonly target: BackendTarget }[]
}

/** Runs one scenario for every contender of one backend; a failure is recorded, not thrown. */
async function runScenario(
  scenario: ScenarioName,
  spec: BackendSpec,
  target: BackendTarget,
  context: ScenarioContext,
): Promise<void> {
  const { profile, results, pool, log } = context
  const attempt = async (
    label: string,
    group: string,
    contender: ContenderSpec,
    work: () => Promise<void>,
  ) => {
    try {
      await work()
    } catch (err) {
      log(`  failed: ${err instanceof Error ? err.message : String(err)}`)
      results.fail(
        {
          scenario: label,
          backend: spec.name,
          contender: contender.name,
          role: contender.role,
          group,
        },
        err,
      )
    }
  }
  if (scenario === 'uncontended') {
    log(`uncontended ${spec.name}: ${uncontendedContenders(spec).length} contenders interleaved`)
    await runUncontended(
      spec.name,
      uncontendedContenders(spec),
      target,
      profile.uncontended,
      results,
      spec.probe,
    )
  } else if (scenario === 'keys') {
    const shape = spec.keysFloor ?? 'shared'
    log(`keys ${spec.name}: ${profile.keys.counts.join(', ')} keys, floor ${shape}`)
    await runKeys(
      spec.name,
      spec.floor,
      shape,
      batonOf(spec),
      target,
      profile.keys,
      results,
      spec.probe,
    )
  } else if (scenario === 'handoff') {
    const options = profile.handoff
    const paired = pairedFloorOf(spec, context.live)
    for (const n of options.processes) {
      const group = handoffGroup(spec, n, paired !== undefined)
      await runHandoffs(
        spec.name,
        handoffContenders(spec),
        target,
        n,
        options,
        pool,
        group,
        results,
        (contender, err) => {
          log(`  failed: ${err instanceof Error ? err.message : String(err)}`)
          results.fail(
            {
              scenario: handoffScenario(n),
              backend: spec.name,
              contender: contender.name,
              role: contender.role,
              group,
            },
            err,
          )
        },
        log,
        paired,
      )
    }
    const probe = spec.probe
    if (probe !== undefined && options.countAt > 0) {
      for (const contender of handoffContenders(spec)) {
        log(`handoff ${spec.name} x${options.countAt}, counted: ${contender.name}`)
        const group = handoffGroup(spec, options.countAt, paired !== undefined)
        await attempt(handoffScenario(options.countAt), group, contender, () =>
          countHandoff(spec.name, contender, target, options, pool, group, probe, results),
        )
      }
    }
  } else if (scenario === 'shared' || scenario === 'semaphore') {
    const capability = scenario === 'shared' ? 'sharedLocks' : 'semaphores'
    const declared = await declares(spec, target, capability)
    if (declared !== true) {
      log(`${scenario} ${spec.name}: skipped, ${declared}`)
      return
    }
    const run = scenario === 'shared' ? runShared : runSemaphore
    const name = scenario === 'shared' ? 'shared lock' : 'semaphore'
    await attempt(`${name}, ${spec.name}`, `${scenario}/${spec.name}`, batonOf(spec), () =>
      run(spec, target, profile.modes, pool, results, log),
    )
  } else {
    const baton = batonOf(spec)
    log(`scale ${spec.name}: ${profile.scale.keys} keys`)
    await attempt('scale', `scale/${spec.name}`, baton, async () => {
      for (const sample of await runScale(spec.name, target, profile.scale)) results.add(sample)
    })
  }
}

/**
 * Whether `spec`'s driver declares `capability` (its capabilities decide, as core's do):
 * true, or why not, for the log line of the skip.
 */
async function declares(
  spec: BackendSpec,
  target: BackendTarget,
  capability: 'sharedLocks' | 'semaphores',
): Promise<true | string> {
  let driver: Awaited<ReturnType<BackendSpec['createDriver']>>
  try {
    driver = await spec.createDriver(target)
  } catch (err) {
    return `its driver cannot be created: ${err instanceof Error ? err.message : String(err)}`
  }
  try {
    return driver.capabilities[capability] === true
      ? true
      : `the ${driver.name} driver does not declare capabilities.${capability}`
  } finally {
    await driver.close().catch(() => {})
  }
}
