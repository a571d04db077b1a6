import { afterAll, beforeAll, expect, test } from 'vitest'
import type { CheckerName } from '../src/index.js'
import {
  buildForClients,
  type Control,
  type Deployment,
  deploy,
  NEMESES,
  runScenario,
} from '../src/index.js'
import { formatResult } from './format.js'

// Broken variants the suite must catch, each by a named checker (controls.ts has the wrappers).
// They run on the MemoryDriver the harness hosts, under the holder-pause nemesis.
let d: Deployment
beforeAll(async () => {
  buildForClients()
  d = await deploy('memory')
}, 240_000)
afterAll(() => d?.stop())

const pause = NEMESES.find((n) => n.name === 'holder-pause')

const cases: { control: Control; checker: CheckerName; holdMs?: [number, number] }[] = [
  // holds longer than the TTL: the backend expires the lease the blind renewals never asked about
  { control: 'renew-blind', checker: 'S1', holdMs: [1_200, 1_600] },
  { control: 'constant-fence', checker: 'S3' },
  // long holds too: the pause must land before the holder's check, so that it sees the lease
  // invalid while the late signal has not aborted (a pause after the write went unexercised)
  { control: 'late-signal', checker: 'N1', holdMs: [1_200, 1_600] },
  // long holds: the pause must land between the read and the unchecked write (with short
  // holds it sometimes landed outside, and the control went unexercised)
  { control: 'no-check', checker: 'W1', holdMs: [1_200, 1_600] },
]

test.each(cases)('$control is flagged by $checker', async ({ control, checker, holdMs }) => {
  if (!pause) throw new Error('holder-pause nemesis missing')
  const result = await runScenario(d, pause, { seed: 7, control, ...(holdMs ? { holdMs } : {}) })
  console.info(formatResult(result))
  expect(result.verdict.counts[checker]).toBeGreaterThan(0)
})

test('the same scenario without a control is clean', async () => {
  if (!pause) throw new Error('holder-pause nemesis missing')
  const result = await runScenario(d, pause, { seed: 7 })
  expect(result.verdict.violations).toEqual([])
})
