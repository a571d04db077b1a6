// Prints vitest JSON reports as one plain line, "Tests: N passed, N failed, N skipped", summed
// over every report given, which CI reads; exits non-zero when any test failed, a test file
// failed to run, a report is missing (vitest died before writing it) or no test ran at all.
// Each failed test is named on stderr first ("summary: FAILED <file> > <test>: <first line>"), so a
// log's tail says what failed; .ci/run repeats those lines at its end.
//
//   node .ci/summary.mjs .cache/vitest-report.json
//   node .ci/summary.mjs a.json b.json                 # one line over both
//   node .ci/summary.mjs --label "Node v24.1.0" a.json # "Node v24.1.0: N passed, ..."
import { readFileSync } from 'node:fs'
import { relative } from 'node:path'

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
const failures = []
const firstLine = (text) =>
  String(text ?? '')
    .trim()
    .split('\n')[0]
    .slice(0, 300)
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
  // Not vitest's numFailedTestSuites: that counts every describe block holding a failed test
  // too, so one failed test printed "2 test file(s) failed to run". A file failed to run when
  // it failed with no failed test in it (an import error, a failing hook).
  for (const suite of report.testResults ?? []) {
    const file = relative(process.cwd(), suite.name ?? '?')
    const failedTests = (suite.assertionResults ?? []).filter((t) => t.status === 'failed')
    for (const t of failedTests)
      failures.push(`${file} > ${t.fullName ?? t.title}: ${firstLine(t.failureMessages?.[0])}`)
    if (failedTests.length === 0 && suite.status === 'failed') {
      suitesFailed += 1
      failures.push(`${file}: ${firstLine(suite.message)}`)
    }
  }
}

for (const problem of problems) console.error(`summary: ${problem}`)
for (const failure of failures) console.error(`summary: FAILED ${failure}`)
if (suitesFailed > 0) console.error(`summary: ${suitesFailed} test file(s) failed to run`)
console.log(`${label}: ${passed} passed, ${failed} failed, ${skipped} skipped`)
const ok = failed === 0 && suitesFailed === 0 && problems.length === 0 && passed > 0
process.exit(ok ? 0 : 1)
