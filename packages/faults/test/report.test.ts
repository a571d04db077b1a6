import { expect, test } from 'vitest'
import type { ScenarioResult } from '../src/index.js'
import { checkHistory } from '../src/index.js'
import { guaranteesMarkdown } from '../src/report.js'
import { History } from './history-builder.js'

function result(nemesis: string, h: History): ScenarioResult {
  const verdict = checkHistory(h.events, [], {
    'holder-kill': { measure: 'takeover', boundMs: 1_000 },
  })
  return {
    backend: 'memory',
    nemesis,
    seed: 3,
    verdict,
    events: h.events,
    store: [],
    durationMs: 1,
    dir: '/tmp/x',
  }
}

test('guarantees.md: one row per nemesis with violations by checker and takeover p50 / max', () => {
  const clean = new History()
    .grant('a', 1, 0, 1000, 1)
    .push({
      type: 'nemesis',
      name: 'holder-kill',
      phase: 'start',
      t: 10,
      target: 'a',
      holder: { client: 'a', op: 1 },
    })
    .grant('b', 1, 210, 1200, 2)
  const overlapping = new History()
    .grant('a', 1, 0, 1000, 1)
    .push({
      type: 'nemesis',
      name: 'holder-pause',
      phase: 'start',
      t: 10,
      target: 'a',
      holder: { client: 'a', op: 1 },
    })
    .grant('b', 1, 500, 1200, 2)
  const md = guaranteesMarkdown(
    [
      {
        label: 'memory',
        topology: 'in-process',
        ttlMs: 1000,
        note: 'test',
        outsideDocumented: false,
        results: [result('holder-kill', clean), result('holder-pause', overlapping)],
      },
    ],
    { seed: 42, iterations: 1, startedAt: 'now', durationS: 1, loadBefore: [1, 1, 1] },
  )
  expect(md).toContain('pnpm faults --long --seed 42')
  expect(md).toContain('| holder-kill | 1 | 2 | 0 | 200 / 200 | - | 0 (0 stale) | 0 |')
  expect(md).toMatch(/\| holder-pause \| 1 \| 2 \| \*\*1\*\* \(S1 1\) \|/)
  expect(md).toContain('holder-pause (seed 3), S1:')
  // What Redlock promises after a restart without persistence is stated with the report.
  expect(md).toContain('## Only under the documented deployment')
  expect(md).toMatch(/- Redlock \(`redlock:\/\/`.*restarts \*\*without persistence\*\*/)
})
