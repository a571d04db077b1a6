#!/usr/bin/env node
// `pnpm faults [--long] [--seed N] [--iterations N] [--backend a,b] [--out FILE]`: runs the fault
// suite outside vitest. --long: several iterations of every nemesis per backend in a randomized
// order (printed seed; --seed replays it), then writes docs/guarantees.md.
import { writeFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { repoRoot } from '@baton-lock/test-matrix'
import { prng } from './client/client-config.js'
import { BACKENDS, type DeployOptions, deploy } from './harness/backends.js'
import { buildForClients } from './harness/build.js'
import type { BackendName } from './harness/deployment.js'
import { NEMESES, nemesesFor } from './harness/nemeses.js'
import { runScenario, type ScenarioResult } from './harness/scenario.js'
import { knownLimitOf } from './known-limits.js'
import { guaranteesMarkdown, type ReportGroup } from './report.js'

const { values } = parseArgs({
  options: {
    long: { type: 'boolean', default: false },
    seed: { type: 'string' },
    iterations: { type: 'string' },
    backend: { type: 'string' },
    out: { type: 'string' },
    parallel: { type: 'string', default: '3' },
  },
})
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed)
const iterations = Number(values.iterations ?? (values.long ? 3 : 1))
const backends = (values.backend?.split(',') ?? BACKENDS) as BackendName[]
console.log(
  `faults: seed ${seed} (replay: pnpm faults${values.long ? ' --long' : ''} --seed ${seed}), ${iterations} iteration(s)`,
)

interface Plan {
  label: string
  backend: BackendName
  options: DeployOptions
  nemeses: string[] | undefined
  outsideDocumented: boolean
}
const plans: Plan[] = backends.map((b) => ({
  label: b,
  backend: b,
  options: {},
  nemeses: undefined,
  outsideDocumented: false,
}))
if (values.long) {
  if (backends.includes('redis'))
    plans.push({
      label: 'Redis without AOF',
      backend: 'redis',
      options: { redisVolatile: true },
      nemeses: ['server-kill'],
      outsideDocumented: true,
    })
  if (backends.includes('redlock'))
    plans.push({
      // One node restarted within the TTL without persistence: what Redlock does not promise
      // (known-limits.ts, DEPLOYMENT_LIMITS); its violations, if any, are that deployment's cost.
      label: 'Redlock without AOF',
      backend: 'redlock',
      options: { redlockVolatile: true },
      nemeses: ['member-kill'],
      outsideDocumented: true,
    })
  if (backends.includes('postgres'))
    plans.push({
      // The server's default is off; the driver turns it on for its own lock sessions, so
      // fences must stay durable here too (this plan counts its violations).
      label: 'PostgreSQL, server default synchronous_commit off',
      backend: 'postgres',
      options: { postgresAsyncCommit: true },
      nemeses: ['server-kill'],
      outsideDocumented: false,
    })
}

buildForClients()
const startedAt = new Date().toISOString()
const loadBefore = loadavg()
const t0 = performance.now()
const rand = prng(seed)
// Each plan gets its own schedule from the master seed, drawn up front so --seed replays it.
const schedules = plans.map(() => {
  const order: { nemesis: string; seed: number; warmupMs: number }[] = []
  for (let i = 0; i < iterations; i++) {
    const names = NEMESES.map((n) => n.name)
    for (let j = names.length - 1; j > 0; j--) {
      const k = Math.floor(rand() * (j + 1))
      ;[names[j], names[k]] = [names[k] as string, names[j] as string]
    }
    for (const nemesis of names)
      order.push({
        nemesis,
        seed: Math.floor(rand() * 2 ** 31),
        warmupMs: 500 + Math.floor(rand() * 1500),
      })
  }
  return order
})

const groups: ReportGroup[] = []
let unexplained = 0
async function runPlan(index: number): Promise<void> {
  const plan = plans[index] as Plan
  const d = await deploy(plan.backend, plan.options)
  const results: ScenarioResult[] = []
  try {
    const applicable = new Set(nemesesFor(d).map((n) => n.name))
    for (const step of schedules[index] ?? []) {
      if (!applicable.has(step.nemesis) || (plan.nemeses && !plan.nemeses.includes(step.nemesis)))
        continue
      const nemesis = NEMESES.find((n) => n.name === step.nemesis)
      if (!nemesis) continue
      try {
        const r = await runScenario(d, nemesis, { seed: step.seed, warmupMs: step.warmupMs })
        results.push(r)
        const bad = r.verdict.violations.filter((v) => !knownLimitOf(r.backend, r.nemesis, v))
        if (!plan.outsideDocumented) unexplained += bad.length
        console.log(
          `${plan.label} ${r.nemesis} seed ${r.seed}: ${r.verdict.grants} grants, ${r.verdict.violations.length} violations${r.verdict.violations.length ? ` (${r.verdict.violations.map((v) => v.checker).join(' ')}; history ${r.dir})` : ''}`,
        )
        for (const v of r.verdict.violations.slice(0, 3))
          console.log(`  ${v.checker}: ${v.message}`)
      } catch (err) {
        console.log(
          `${plan.label} ${step.nemesis} seed ${step.seed}: scenario failed: ${err instanceof Error ? err.message : err}`,
        )
        unexplained++
      }
    }
  } finally {
    await d.stop().catch(() => undefined)
  }
  groups[index] = {
    label: plan.label,
    topology: d.topology,
    ttlMs: d.ttlMs,
    note: d.note,
    outsideDocumented: plan.outsideDocumented,
    results,
  }
}

// A few plans at a time: each starts its own servers.
let next = 0
const width = Math.max(1, Number(values.parallel))
await Promise.all(
  Array.from({ length: width }, async () => {
    while (next < plans.length) await runPlan(next++)
  }),
)
const durationS = Math.round((performance.now() - t0) / 1000)
if (values.long || values.out) {
  const out = values.out ?? join(repoRoot, 'docs/guarantees.md')
  writeFileSync(
    out,
    guaranteesMarkdown(groups.filter(Boolean), {
      seed,
      iterations,
      startedAt,
      durationS,
      loadBefore,
    }),
  )
  console.log(`faults: wrote ${out}`)
}
console.log(
  `faults: ${unexplained} unexplained violation(s) or failed scenario(s) in ${durationS} s (seed ${seed})`,
)
process.exit(unexplained === 0 ? 0 : 1)
