import { describe, expect, it } from 'vitest'
import { handoffChart, keysChart } from '../src/charts.js'
import type { Distribution, Row } from '../src/results.js'

const dist = (contender: string, role: Distribution['role'], processes: number): Distribution => ({
  scenario: `handoff, ${processes} processes`,
  backend: 'redis',
  contender,
  role,
  kind: 'acquire',
  processes,
  values: Array.from({ length: 100 }, (_, i) => 0.5 + i / 10),
})

const row = (role: Row['role'], keys: number, median: number): Row => ({
  scenario: 'keys',
  backend: 'redis',
  contender: role,
  role,
  metric: `cycles/s at ${keys} keys`,
  unit: '1/s',
  spread: { median, min: median, max: median, runs: 1 },
  ratio: undefined,
  notes: [],
})

describe('charts', () => {
  it('draws one box per contender and process count, with a legend', () => {
    const svg = handoffChart('redis', [
      dist('floor', 'floor', 2),
      dist('Baton', 'baton', 2),
      dist('Baton', 'baton', 4),
      { ...dist('other backend', 'floor', 2), backend: 'postgres' },
    ])
    expect(svg).toMatch(/^<svg [^>]*>[\s\S]*<\/svg>\n$/)
    // Background + 3 boxes + 2 legend swatches.
    expect(svg?.match(/<rect /g)).toHaveLength(6)
    expect(svg).toContain('4 processes')
    expect(svg).not.toContain('other backend')
    expect(handoffChart('etcd', [dist('x', 'floor', 2)])).toBeUndefined()
  })

  it('draws floor and Baton lines against the key count', () => {
    const svg = keysChart(
      [row('floor', 1, 100), row('floor', 16, 1600), row('baton', 1, 90), row('baton', 16, 900)],
      ['redis', 'postgres'],
    )
    expect(svg?.match(/<polyline /g)).toHaveLength(2)
    expect(svg).toContain('>redis<')
    expect(svg).not.toContain('>postgres<')
  })
})
