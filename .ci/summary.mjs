// Prints vitest JSON reports as one plain line, "Tests: N passed, N failed, N skipped", summed
// over every report given, which CI reads; exits non-zero when any test failed, a test file
// failed to run, a report is missing (vitest died before writing it) or no test ran at all.
//
//   node .ci/summary.mjs .cache/vitest-report.json
//   node .ci/summary.mjs a.json b.json                 # one line over both
//   node .ci/summary.mjs --label "Node v24.1.0" a.json # "Node v24.1.0: N passed, ..."
import { readFileSync } from 'node:fs'

const args = process.argv.slice(2)
let label = 'Tests'
if (args[0] === '--label') {
  label = args[1] ?? label
  args.splice(0, 2)
}
const files = args.length > 0 ? args : ['.cache/vitest-report.json']

let passed = 0
let failed = 0
let skipped = 0
let suitesFailed = 0
const problems = []
for (const file of files) {
  let report
  try {
    report = JSON.parse(readFileSync(file, 'utf8'))
  } catch (err) {
    problems.push(`cannot read ${file}: ${err.message}`)
    continue
  }
  passed += report.numPassedTests ?? 0
  failed += report.numFailedTests ?? 0
  skipped += (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0)
  suitesFailed += report.numFailedTestSuites ?? 0
}

for (const problem of problems) console.error(`summary: ${problem}`)
if (suitesFailed > 0) console.error(`summary: ${suitesFailed} test file(s) failed to run`)
console.log(`${label}: ${passed} passed, ${failed} failed, ${skipped} skipped`)
const ok = failed === 0 && suitesFailed === 0 && problems.length === 0 && passed > 0
process.exit(ok ? 0 : 1)
