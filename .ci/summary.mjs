// Prints vitest's JSON report as one plain closing line, "Tests: N passed, N failed, N skipped",
// which CI reads, and exits non-zero when any test failed or none ran.
import { readFileSync } from 'node:fs'

const file = process.argv[2] ?? '.cache/vitest-report.json'
let report
try {
  report = JSON.parse(readFileSync(file, 'utf8'))
} catch (err) {
  console.error(`summary: cannot read ${file}: ${err.message}`)
  process.exit(1)
}
const passed = report.numPassedTests ?? 0
const failed = report.numFailedTests ?? 0
const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0)
const suitesFailed = report.numFailedTestSuites ?? 0
console.log(`Tests: ${passed} passed, ${failed} failed, ${skipped} skipped`)
if (suitesFailed > 0) console.log(`(${suitesFailed} test file(s) failed to run)`)
process.exit(failed > 0 || suitesFailed > 0 || passed === 0 ? 1 : 0)
