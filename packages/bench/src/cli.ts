#!/usr/bin/env node
import { parseBenchArgs, USAGE } from './args.js'
import { renderHandoff, renderKeys, renderModes, renderUncontended } from './format.js'
import { busyShare, currentLoad, describeMachine, readCpuTicks } from './machine.js'
import { FULL, QUICK } from './profile.js'
import {
  jsonNameOf,
  renderCharts,
  renderJson,
  renderLoad,
  renderMachine,
  renderReport,
  writeReport,
} from './report.js'
import { runBenchmark } from './run-benchmark.js'
import { checkTargets, renderVerdicts } from './targets.js'

async function main(): Promise<void> {
  const args = parseBenchArgs(process.argv.slice(2))
  if (args.help) {
    process.stdout.write(`${USAGE}\n`)
    return
  }
  const machine = describeMachine()
  const ticks = readCpuTicks()
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
  machine.busyPct = busyShare(ticks, readCpuTicks())
  const seconds = (performance.now() - started) / 1000
  const rows = report.results.rows()
  process.stdout.write(
    [
      renderMachine(machine, report),
      renderLoad(report.load),
      renderVerdicts(checkTargets(rows, report.plan.profile.scale.keys)),
      renderUncontended(rows, report.runs),
      renderKeys(rows, report.plan.profile.keys.counts),
      renderHandoff(rows),
      renderModes(rows, report.runs),
      '',
    ].join('\n\n'),
  )
  if (args.outFile !== undefined) {
    const now = new Date()
    const charts = renderCharts(report)
    const written = await writeReport(
      args.outFile,
      renderReport(machine, report, [...charts.keys()], now, seconds, jsonNameOf(args.outFile)),
      charts,
      renderJson(machine, report, now),
    )
    log(`wrote ${written.join(', ')}`)
  }
  log(`done in ${seconds.toFixed(0)} s`)
}

main().catch((err: unknown) => {
  process.stderr.write(
    `bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  )
  process.exitCode = 1
})
