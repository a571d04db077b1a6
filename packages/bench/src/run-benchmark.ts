import type { ScenarioName } from './args.js'
import type { BackendSpec, RunningBackend } from './backend-spec.js'
import {
  BACKENDS,
  backendNamed,
  batonOf,
  handoffContenders,
  uncontendedContenders,
} from './backends.js'
import type { BackendTarget, ContenderSpec } from './lock-client.js'
import type { Profile } from './profile.js'
import { Results, type Sample } from './results.js'
import { runHandoff } from './scenarios/handoff.js'
import { runScale } from './scenarios/scale.js'
import { runUncontended } from './scenarios/uncontended.js'
import { WorkerPool } from './scenarios/worker-pool.js'

/** What to run. */
export interface BenchmarkPlan {
  readonly backends?: readonly string[] | undefined
  readonly scenarios: readonly ScenarioName[]
  readonly runs: number
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
}

/**
 * Starts the selected backends, then runs every scenario `runs` times. Runs are the outer
 * loop, so that every contender sees the same drift of a shared machine; a failing
 * contender is recorded in its rows and the run goes on. Servers are stopped at the end.
 */
export async function runBenchmark(plan: BenchmarkPlan): Promise<BenchmarkReport> {
  const log = plan.log ?? (() => {})
  const specs = plan.backends === undefined ? [...BACKENDS] : plan.backends.map(backendNamed)
  const outcomes: BackendOutcome[] = []
  const results = new Results()
  const pool = new WorkerPool(plan.profile.handoff.workers)
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
    for (let run = 1; run <= plan.runs; run++) {
      results.beginRun(run)
      for (const scenario of plan.scenarios) {
        for (const { spec, running } of live) {
          const context = {
            profile: plan.profile,
            results,
            pool,
            log: (line: string) => log(`run ${run}/${plan.runs} ${line}`),
          }
          await runScenario(scenario, spec, running.target, context)
        }
      }
    }
    return { results, backends: outcomes, plan }
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
}

/** Runs one scenario for every contender of one backend; a failure is recorded, not thrown. */
async function runScenario(
  scenario: ScenarioName,
  spec: BackendSpec,
  target: BackendTarget,
  context: ScenarioContext,
): Promise<void> {
  const { profile, results, pool, log } = context
  const label = scenario === 'uncontended' && spec.name === 'memory' ? 'core overhead' : scenario
  const group = scenario === 'handoff' ? 'handoff' : `${scenario}/${spec.name}`
  const attempt = async (contender: ContenderSpec, work: () => Promise<readonly Sample[]>) => {
    log(`${label} ${spec.name}: ${contender.name}`)
    try {
      for (const sample of await work()) results.add(sample)
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
    for (const contender of uncontendedContenders(spec)) {
      await attempt(contender, () =>
        runUncontended(spec.name, contender, target, profile.uncontended, spec.probe),
      )
    }
  } else if (scenario === 'handoff') {
    for (const contender of handoffContenders(spec)) {
      await attempt(contender, () =>
        runHandoff(spec.name, contender, target, profile.handoff, pool),
      )
    }
  } else {
    await attempt(batonOf(spec), () => runScale(spec.name, target, profile.scale))
  }
}
