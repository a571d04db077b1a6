import { describe, expect, it } from 'vitest'
import { backendNamed, handoffContenders, uncontendedContenders } from '../src/backends.js'
import { describeMachine } from '../src/machine.js'
import { TINY } from '../src/profile.js'
import { renderCharts, renderJson, renderReport } from '../src/report.js'
import type { Row } from '../src/results.js'
import { runBenchmark } from '../src/run-benchmark.js'
import { handoffScenario } from '../src/scenarios/handoff.js'
import { keysMetric } from '../src/scenarios/keys.js'
import {
  SEMAPHORE_ROW,
  SHARED_ROW,
  semaphoreScenario,
  sharedScenario,
} from '../src/scenarios/modes.js'

// Proves that every scenario runs for every contender of every backend, at tiny sizes.
// It checks no timing: only that figures come out, and the two safety counts are zero.

const figure = (rows: readonly Row[], scenario: string, contender: string, metric: string) =>
  rows.find((r) => r.scenario === scenario && r.contender === contender && r.metric === metric)

describe.each(['memory', 'sqlite', 'redis', 'postgres', 'mysql', 'etcd', 'zookeeper'])(
  'pnpm bench, tiny sizes: %s',
  (backend) => {
    it('runs every scenario for every contender without a failure', async () => {
      const lines: string[] = []
      const report = await runBenchmark({
        backends: [backend],
        scenarios: ['uncontended', 'keys', 'handoff', 'shared', 'semaphore', 'scale'],
        profile: TINY,
        log: (line) => lines.push(line),
      })
      expect(report.backends.map((b) => b.error ?? 'started')).toEqual(['started'])
      const rows = report.results.rows()
      expect(
        rows
          .filter((r) => r.notes.length > 0)
          .map((r) => `${r.scenario} ${r.contender}: ${r.notes[0]}`),
      ).toEqual([])
      // The machine's load is recorded for the run and the whole benchmark.
      expect(report.load.map((w) => w.label)).toEqual(['run 1', 'whole benchmark'])
      expect(report.load[0]?.busyPct).toBeGreaterThan(0)

      const spec = backendNamed(backend)
      const uncontended = backend === 'memory' ? 'core overhead' : 'uncontended'
      for (const contender of uncontendedContenders(spec)) {
        const cycles = figure(rows, uncontended, contender.name, 'cycles/s')
        expect(cycles?.spread.median, contender.name).toBeGreaterThan(0)
        expect(cycles?.blocks?.n, contender.name).toBe(TINY.uncontended.rounds)
        expect(
          figure(rows, uncontended, contender.name, 'client CPU per cycle')?.spread.median,
        ).toBeGreaterThan(0)
      }
      for (const n of TINY.keys.counts) {
        for (const role of ['floor', 'baton']) {
          const row = rows.find(
            (r) => r.scenario === 'keys' && r.role === role && r.metric === keysMetric(n),
          )
          expect(row?.spread.median, `${role} at ${n} keys`).toBeGreaterThan(0)
        }
      }
      for (const n of TINY.handoff.processes) {
        for (const contender of handoffContenders(spec)) {
          const scenario = handoffScenario(n)
          // Grants of the whole round: a 300 ms window on a loaded machine may hold none.
          expect(
            figure(rows, scenario, contender.name, 'grants in round (warm-up and edges included)')
              ?.spread.median,
            `${contender.name} x${n}`,
          ).toBeGreaterThan(0)
          expect(figure(rows, scenario, contender.name, 'cycles/s')).toBeDefined()
          expect(
            figure(rows, scenario, contender.name, 'overlapping holds')?.spread.max,
            `${contender.name} x${n}`,
          ).toBe(0)
          expect(figure(rows, scenario, contender.name, 'grants in arrival order')).toBeDefined()
          if (spec.probe !== undefined && n === TINY.handoff.countAt) {
            expect(
              figure(rows, scenario, contender.name, 'round trips per grant (counted pass)')?.spread
                .median,
              `${contender.name} counted`,
            ).toBeGreaterThan(0)
          }
        }
      }
      expect(
        figure(rows, 'scale', 'Baton: Locker.acquire', 'acquire 50 locks')?.spread.median,
      ).toBeGreaterThan(0)
      expect(
        figure(rows, 'scale', 'Baton: Locker.acquire', 'locks lost during hold')?.spread.max,
      ).toBe(0)

      // Shared locks and semaphores: run where the driver declares the mode, else skipped
      // with the reason (and no row). A run shows no writer beside a holder, never more
      // permits than the limit.
      const log = lines.join('\n')
      const sharedSkipped = new RegExp(
        `shared ${backend}: skipped, the \\S+ driver does not declare capabilities\\.sharedLocks`,
      ).test(log)
      for (const readers of TINY.modes.readers) {
        const row = (metric: string) =>
          figure(rows, sharedScenario(readers), SHARED_ROW, metric)?.spread
        if (sharedSkipped) {
          expect(row('reader acquisitions/s')).toBeUndefined()
          continue
        }
        expect(row('reader acquisitions/s')?.median, `${readers} readers`).toBeGreaterThan(0)
        expect(row('writer beside another holder')?.max, `${readers} readers`).toBe(0)
        expect(row('most readers at once')?.max).toBeLessThanOrEqual(readers)
      }
      const semaphoreSkipped = new RegExp(
        `semaphore ${backend}: skipped, the \\S+ driver does not declare capabilities\\.semaphores`,
      ).test(log)
      for (const limit of TINY.modes.limits) {
        const most = figure(rows, semaphoreScenario(limit), SEMAPHORE_ROW, 'most holders at once')
        if (semaphoreSkipped) {
          expect(most).toBeUndefined()
          continue
        }
        expect(most?.spread.max, `limit ${limit}`).toBeGreaterThan(0)
        expect(most?.spread.max, `limit ${limit}`).toBeLessThanOrEqual(limit)
      }

      // The report renders with its charts.
      const charts = renderCharts(report)
      expect([...charts.keys()]).toEqual([
        ...(spec.crossProcess ? [`bench-handoff-${backend}.svg`] : []),
        'bench-keys.svg',
      ])
      for (const svg of charts.values()) expect(svg).toMatch(/^<svg [^>]*>[\s\S]*<\/svg>\n$/)
      const text = renderReport(describeMachine(), report, [...charts.keys()], new Date(), 1)
      expect(text).toContain('## Targets')
      expect(text).toContain('bench-keys.svg')
      const json = JSON.parse(renderJson(describeMachine(), report, new Date()))
      expect(json.load).toHaveLength(2)
      expect(json.figures).toHaveLength(rows.length)
      expect(json.figures[0].perRound[0].round).toBe(1)
    })
  },
)
