import { describe, expect, it } from 'vitest'
import { backendNamed, handoffContenders, uncontendedContenders } from '../src/backends.js'
import { TINY } from '../src/profile.js'
import type { Row } from '../src/results.js'
import { runBenchmark } from '../src/run-benchmark.js'

// Proves that every scenario runs for every contender of every backend, at tiny sizes.
// It checks no timing: only that figures come out, and the two safety counts are zero.

const figure = (rows: readonly Row[], scenario: string, contender: string, metric: string) =>
  rows.find(
    (r) => r.scenario === scenario && r.contender === contender && r.metric.startsWith(metric),
  )

describe.each(['memory', 'sqlite', 'redis', 'postgres'])(
  'pnpm bench, tiny sizes: %s',
  (backend) => {
    it('runs uncontended, handoff and scale for every contender without a failure', async () => {
      const report = await runBenchmark({
        backends: [backend],
        scenarios: ['uncontended', 'handoff', 'scale'],
        runs: 1,
        profile: TINY,
      })
      expect(report.backends.map((b) => b.error ?? 'started')).toEqual(['started'])
      const rows = report.results.rows()
      expect(
        rows
          .filter((r) => r.notes.length > 0)
          .map((r) => `${r.scenario} ${r.contender}: ${r.notes[0]}`),
      ).toEqual([])

      const spec = backendNamed(backend)
      const uncontended = backend === 'memory' ? 'core overhead' : 'uncontended'
      for (const contender of uncontendedContenders(spec)) {
        expect(
          figure(rows, uncontended, contender.name, 'cycles/s')?.spread.median,
          contender.name,
        ).toBeGreaterThan(0)
      }
      for (const contender of handoffContenders(spec)) {
        expect(
          figure(rows, 'handoff', contender.name, 'cycles/s')?.spread.median,
          contender.name,
        ).toBeGreaterThan(0)
        expect(
          figure(rows, 'handoff', contender.name, 'overlapping holds')?.spread.max,
          contender.name,
        ).toBe(0)
      }
      expect(
        figure(rows, 'scale', 'Baton: Locker.acquire', 'acquire 50 locks')?.spread.median,
      ).toBeGreaterThan(0)
      expect(figure(rows, 'scale', 'Baton: Locker.acquire', 'locks lost')?.spread.max).toBe(0)
    })
  },
)
