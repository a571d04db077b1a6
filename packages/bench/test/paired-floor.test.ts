import { describe, expect, it } from 'vitest'
import { backendNamed, pairedFloorOf } from '../src/backends.js'
import { TINY } from '../src/profile.js'
import { runBenchmark } from '../src/run-benchmark.js'
import { handoffScenario, pairedFloorName } from '../src/scenarios/handoff.js'

// A backend judged against PostgreSQL's server-side wait runs that floor in its own
// passes when PostgreSQL is running too: its ratios divide figures of the same minutes.

describe('the handoff reference floor, paired', () => {
  it('runs beside a backend judged against another backend and is the 1.0x of its rows', async () => {
    const report = await runBenchmark({
      backends: ['redis', 'postgres'],
      scenarios: ['handoff'],
      runs: 1,
      profile: TINY,
    })
    expect(report.backends.map((b) => b.error ?? 'started')).toEqual(['started', 'started'])
    const rows = report.results.rows()
    const floorName = pairedFloorName({
      backend: 'postgres',
      floor: backendNamed('postgres').handoffFloors?.[0] ?? backendNamed('postgres').floor,
    })
    expect(floorName).toBe('floor: postgres pg_advisory_lock server-side wait, same passes')
    const row = (backend: string, contender: string, scenario: string, metric: string) =>
      rows.find(
        (r) =>
          r.backend === backend &&
          r.contender === contender &&
          r.scenario === scenario &&
          r.metric === metric,
      )
    for (const n of TINY.handoff.processes) {
      const scenario = handoffScenario(n)
      const paired = row('redis', floorName, scenario, 'idle per handoff p50')
      const own = row(
        'postgres',
        'floor: pg_advisory_lock server-side wait',
        scenario,
        'idle per handoff p50',
      )
      const baton = row('redis', 'Baton: Locker.acquire', scenario, 'idle per handoff p50')
      expect(paired?.role, `x${n}`).toBe('floor')
      expect(paired?.notes, `x${n}`).toEqual([])
      expect(
        row('redis', floorName, scenario, 'grants in round (warm-up and edges included)')?.spread
          .median,
      ).toBeGreaterThan(0)
      expect(row('redis', floorName, scenario, 'overlapping holds')?.spread.max).toBe(0)
      // One run: the ratio is Baton's figure over the paired floor's, not over PostgreSQL's
      // own floor (measured in PostgreSQL's turn, a different figure).
      const b = baton?.spread.median ?? Number.NaN
      expect(baton?.ratio, `x${n}`).toBeCloseTo(b / (paired?.spread.median ?? Number.NaN), 9)
      expect(own?.spread.median, `x${n}`).not.toBe(paired?.spread.median)
      expect(paired?.ratio, `x${n}`).toBe(1)
      // PostgreSQL's own rows keep their own floor: the paired one is in Redis's group alone.
      const pgBaton = row('postgres', 'Baton: Locker.acquire', scenario, 'idle per handoff p50')
      expect(pgBaton?.ratio, `x${n}`).toBeCloseTo(
        (pgBaton?.spread.median ?? Number.NaN) / (own?.spread.median ?? Number.NaN),
        9,
      )
    }
  })

  it('is only for a backend judged against a running backend', () => {
    const running = ['redis', 'postgres', 'etcd'].map((name) => ({
      spec: backendNamed(name),
      target: name,
    }))
    expect(pairedFloorOf(backendNamed('redis'), running)?.backend).toBe('postgres')
    expect(pairedFloorOf(backendNamed('redis'), running)?.target).toBe('postgres')
    expect(pairedFloorOf(backendNamed('postgres'), running)).toBeUndefined()
    expect(pairedFloorOf(backendNamed('etcd'), running)).toBeUndefined()
    expect(pairedFloorOf(backendNamed('redis'), running.slice(0, 1))).toBeUndefined()
  })
})
