#!/usr/bin/env node
import { parseBenchArgs, USAGE } from './args.js'
import { renderTable } from './format.js'
import { currentLoad, describeMachine } from './machine.js'
import { FULL, QUICK } from './profile.js'
import { renderMachine, renderReport, writeReport } from './report.js'
import { runBenchmark } from './run-benchmark.js'
import { checkTargets, renderVerdicts } from './targets.js'

async function main(): Promise<void> {
  const args = parseBenchArgs(process.argv.slice(2))
  if (args.help) {
    process.stdout.write(`${USAGE}\n`)
    return
  }
  const machine = describeMachine()
  const started = performance.now()
  const log = (line: string) =>
    process.stderr.write(`[bench ${((performance.now() - started) / 1000).toFixed(0)}s] ${line}\n`)
  const report = await runBenchmark({
    backends: args.backends,
    scenarios: args.scenarios,
    runs: args.runs,
    profile: args.quick ? QUICK : FULL,
    log,
  })
  machine.loadEnd = currentLoad()
  const rows = report.results.rows()
  const table = renderTable(rows, args.runs)
  process.stdout.write(
    `${renderMachine(machine, report)}\n\n${renderVerdicts(checkTargets(rows, report.plan.profile.scale.keys))}\n\n${table}\n`,
  )
  if (args.outFile !== undefined) {
    await writeReport(args.outFile, renderReport(machine, report, table, new Date()))
    log(`wrote ${args.outFile}`)
  }
  log(`done in ${((performance.now() - started) / 1000).toFixed(0)} s`)
}

main().catch((err: unknown) => {
  process.stderr.write(
    `bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  )
  process.exitCode = 1
})
