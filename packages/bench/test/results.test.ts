import { describe, expect, it } from 'vitest'
import { Results } from '../src/results.js'

const who = { scenario: 'uncontended', backend: 'redis', group: 'uncontended/redis' }

describe('Results', () => {
  it('takes ratios run by run against the floor of the same run, then their median', () => {
    const results = new Results()
    const runs: Array<[number, number]> = [
      [1000, 900],
      [2000, 1800],
      [500, 400],
    ]
    runs.forEach(([floor, baton], i) => {
      results.beginRun(i + 1)
      results.add({
        ...who,
        contender: 'floor',
        role: 'floor',
        metric: 'cycles/s',
        unit: '1/s',
        value: floor,
      })
      results.add({
        ...who,
        contender: 'baton',
        role: 'baton',
        metric: 'cycles/s',
        unit: '1/s',
        value: baton,
      })
    })
    const baton = results.rows().find((r) => r.contender === 'baton')
    expect(baton?.spread).toEqual({ median: 900, min: 400, max: 1800, runs: 3 })
    // Per-run ratios 0.9, 0.9, 0.8: median 0.9 (the ratio of medians would be 900/1000 too,
    // but 1800/2000 and 400/500 show why per-run ratios are the robust choice).
    expect(baton?.ratio).toBeCloseTo(0.9)
  })

  it('keeps a contender that failed every run as one row with its message, and no ratio for counts', () => {
    const results = new Results()
    results.add({
      ...who,
      contender: 'floor',
      role: 'floor',
      metric: 'round trips',
      unit: 'count',
      value: 2,
    })
    results.add({
      ...who,
      contender: 'peer',
      role: 'peer',
      metric: 'round trips',
      unit: 'count',
      value: 3,
    })
    results.fail(
      { ...who, contender: 'broken', role: 'peer' },
      new Error('connection refused\nstack'),
    )
    const rows = results.rows()
    expect(rows.find((r) => r.contender === 'peer')?.ratio).toBeUndefined()
    expect(rows.find((r) => r.contender === 'broken')).toMatchObject({
      metric: 'all runs failed',
      notes: ['connection refused'],
    })
  })
})
