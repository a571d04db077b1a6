import { describe, expect, it } from 'vitest'
import { blockFigures, interleave, shuffle } from '../src/scenarios/interleave.js'

describe('interleave', () => {
  it('runs one block of every entry per round, in a shuffled order, and drops an entry that throws', async () => {
    const order: string[] = []
    let calls = 0
    const entry = (id: string) => ({
      id,
      async block() {
        order.push(id)
        return 3
      },
    })
    const broken = {
      id: 'broken',
      async block(): Promise<number> {
        calls += 1
        throw new Error('gone')
      },
    }
    const out = await interleave([entry('a'), entry('b'), entry('c'), broken], 20, 0)
    expect(out.get('a')?.blocks).toHaveLength(20)
    expect(out.get('c')?.blocks[0]?.cycles).toBe(3)
    expect(calls).toBe(1)
    expect(out.get('broken')?.error).toEqual(new Error('gone'))
    // 20 rounds of 3 entries: with a fixed order every round would start with the same entry.
    const firsts = new Set(Array.from({ length: 20 }, (_, r) => order[r * 3]))
    expect(firsts.size).toBeGreaterThan(1)
  })

  it('summarises blocks as the median rate, its quartiles and the CPU per cycle', () => {
    const f = blockFigures([
      { cycles: 100, elapsedMs: 100, cpuUs: 5_000 },
      { cycles: 200, elapsedMs: 100, cpuUs: 8_000 },
      { cycles: 300, elapsedMs: 100, cpuUs: 9_000 },
      { cycles: 0, elapsedMs: 100, cpuUs: 1_000 },
    ])
    expect(f.blocks).toBe(3)
    expect(f.ratePerS).toBeCloseTo(2_000)
    expect(f.rateP25).toBeCloseTo(1_000)
    expect(f.rateP75).toBeCloseTo(3_000)
    expect(f.cpuUsPerCycle).toBeCloseTo(40)
  })

  it('shuffle keeps every element', () => {
    const items = Array.from({ length: 50 }, (_, i) => i)
    expect([...shuffle([...items])].sort((a, b) => a - b)).toEqual(items)
  })
})
