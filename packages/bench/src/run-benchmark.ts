import type { ScenarioName } from './args.js'
import type { BackendSpec, RunningBackend } from './backend-spec.js'
import { BACKENDS, backendNamed, handoffContenders, uncontendedContenders } from './backends.js'
import type { ContenderSpec } from './lock-client.js'
import type { Profile } from './profile.js'
import { Results, type Sample } from './results.js'
import { runHandoff } from './scenarios/handoff.js'
import { runScale } from './scenarios/scale.js'
import { runUncontended } from './scenarios/uncontended.js'

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
      for (const scenario of plan.scenarios) {
        for (const { spec, running } of live) {
          await runScenario(scenario, spec, running, plan.profile, results, (line) =>
            log(`run ${run}/${plan.runs} ${line}`),
          )
        }
      }
    }
    return { results, backends: outcomes, plan }
  } finally {
    for (const o of outcomes) await o.running?.stop().catch(() => {})
  }
}

async function runScenario(
  scenario: ScenarioName,
  spec: BackendSpec,
  running: RunningBackend,
  profile: Profile,
  results: Results,
  log: (line: string) => void,
): Promise<void> {
  const attempt = async (
    contender: ContenderSpec,
    scenarioLabel: string,
    work: () => Promise<void>,
  ) => {
    log(`${scenarioLabel} ${spec.name}: ${contender.name}`)
    try {
      await work()
    } catch (err) {
      log(`  failed: ${err instanceof Error ? err.message : String(err)}`)
      const group = scenario === 'handoff' ? 'handoff' : `${scenario}/${spec.name}`
      results.fail(
        {
          scenario: scenarioLabel,
          backend: spec.name,
          contender: contender.name,
          role: contender.role,
          group,
        },
        err,
      )
    }
  }
  const add = (samples: readonly Sample[]) => {
    for (const s of samples) results.add(s)
  }
  const target = running.target
  if (scenario === 'uncontended') {
    const label = spec.name === 'memory' ? 'core overhead' : 'uncontended'
    for (const contender of uncontendedContenders(spec)) {
      await attempt(contender, label, async () =>
        add(await runUncontended(spec.name, contender, target, profile.uncontended)),
      )
    }
  } else if (scenario === 'handoff') {
    for (const contender of handoffContenders(spec)) {
      await attempt(contender, 'handoff', async () =>
        add(await runHandoff(spec.name, contender, target, profile.handoff)),
      )
    }
  } else {
    const baton = uncontendedContenders(spec).find((c) => c.role === 'baton') as ContenderSpec
    await attempt(baton, 'scale', async () => add(await runScale(spec.name, target, profile.scale)))
  }
}
