import { describe, expect, it } from 'vitest'
import type { Row } from '../src/results.js'
import { handoffScenario } from '../src/scenarios/handoff.js'
import { checkTargets } from '../src/targets.js'

function row(
  backend: string,
  contender: string,
  role: Row['role'],
  metric: string,
  median: number,
  ratio?: number,
): Row {
  return {
    scenario: handoffScenario(4),
    backend,
    contender,
    role,
    metric,
    unit: 'ms',
    spread: { median, min: median, max: median, runs: 3 },
    ratio,
    notes: [],
  }
}

const BATON = 'Baton: Locker.acquire'

/** Baton's 4-process hand-off rows for `backend`, with its acquire p99. */
function batonHandoff(backend: string, p99: number): Row[] {
  return [
    row(backend, BATON, 'baton', 'idle per handoff p50', 1, 1.1),
    row(backend, BATON, 'baton', 'acquire p99', p99),
  ]
}

function p99Verdict(rows: Row[], backend: string) {
  const verdict = checkTargets(rows, 0).find(
    (v) => v.backend === backend && v.target.startsWith('handoff acquire p99'),
  )
  if (verdict === undefined) throw new Error('no acquire p99 verdict')
  return verdict
}

describe('the hand-off acquire p99 target', () => {
  it("shows the reference floor's own p99 and says when the floor misses the bound too", () => {
    const rows = [
      ...batonHandoff('etcd', 51.6),
      row('etcd', 'floor: Mutex recipe, one watch stream', 'floor', 'acquire p99', 92.2),
    ]
    const verdict = p99Verdict(rows, 'etcd')
    expect(verdict.verdict).toBe('missed')
    expect(verdict.measured).toContain('51.6 ms')
    expect(verdict.measured).toContain('reference floor 92.2 ms (misses it too)')
  })

  it("takes PostgreSQL's floor as the reference of a backend judged against it", () => {
    const rows = [
      ...batonHandoff('redis', 6.9),
      row('redis', 'reference: own raw recipe', 'reference', 'acquire p99', 99),
      row('postgres', 'floor: pg_advisory_lock server-side wait', 'floor', 'acquire p99', 9.1),
    ]
    const verdict = p99Verdict(rows, 'redis')
    expect(verdict.verdict).toBe('met')
    expect(verdict.measured).toContain('reference floor 9.10 ms')
    expect(verdict.measured).not.toContain('misses it too')
  })

  it("prefers PostgreSQL's floor run in the backend's own passes to PostgreSQL's own turn", () => {
    const rows = [
      ...batonHandoff('redis', 6.9),
      row(
        'redis',
        'floor: postgres pg_advisory_lock server-side wait, same passes',
        'floor',
        'acquire p99',
        8.2,
      ),
      row('postgres', 'floor: pg_advisory_lock server-side wait', 'floor', 'acquire p99', 9.1),
    ]
    expect(p99Verdict(rows, 'redis').measured).toContain('reference floor 8.20 ms')
  })

  it('leaves the reference out when no floor ran', () => {
    const verdict = p99Verdict(batonHandoff('zookeeper', 25), 'zookeeper')
    expect(verdict.verdict).toBe('missed')
    expect(verdict.measured).not.toContain('reference floor')
  })
})
