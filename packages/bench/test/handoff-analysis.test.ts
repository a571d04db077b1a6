import { describe, expect, it } from 'vitest'
import { analyseHandoff, mergeHandoff } from '../src/scenarios/handoff-analysis.js'

const cycle = (requestedAtMs: number, acquiredAtMs: number, releasingAtMs: number) => ({
  requestedAtMs,
  acquiredAtMs,
  releasingAtMs,
  releasedAtMs: releasingAtMs + 0.2,
})

describe('analyseHandoff', () => {
  it('measures idle time only over handoffs with a waiter, and counts self re-acquisitions', () => {
    const f = analyseHandoff(
      [
        { cycles: [cycle(0, 0, 1), cycle(3, 5, 6)], timeouts: 0 },
        { cycles: [cycle(0.5, 1.5, 2.5)], timeouts: 1 },
      ],
      0,
      10,
    )
    // 0->1.5 (worker 1 waited since 0.5): idle 0.5; 1.5->5 (worker 0 asked at 3 > 2.5): not counted.
    expect(f.idleP50Ms).toBeCloseTo(0.5)
    expect(f.cyclesPerS).toBeCloseTo(300)
    expect(f.selfReacquirePct).toBe(0)
    expect(f.sharesPct[0]).toBeCloseTo(200 / 3)
    expect(f.sharesPct[1]).toBeCloseTo(100 / 3)
    expect(f.acquireMaxMs).toBeCloseTo(2)
    expect(f.overlaps).toBe(0)
    expect(f.timeouts).toBe(1)
  })

  it('sums the CPU of every worker over the round (NaN if one did not measure it), and merging sums it', () => {
    const measured = analyseHandoff(
      [
        { cycles: [cycle(0, 0, 1)], timeouts: 0, cpuUs: 300 },
        { cycles: [cycle(0.5, 1.5, 2.5), cycle(3, 5, 6)], timeouts: 0, cpuUs: 450 },
      ],
      0,
      10,
    )
    expect(measured.cpuUs).toBe(750)
    expect(measured.allGrants).toBe(3)
    const unmeasured = analyseHandoff(
      [
        { cycles: [cycle(0, 0, 1)], timeouts: 0, cpuUs: 300 },
        { cycles: [cycle(0.5, 1.5, 2.5)], timeouts: 0 },
      ],
      0,
      10,
    )
    expect(unmeasured.cpuUs).toBeNaN()
    expect(mergeHandoff([measured, measured]).cpuUs).toBe(1500)
  })

  it('flags a grant seen before the previous holder began to release', () => {
    const f = analyseHandoff(
      [
        { cycles: [cycle(0, 0, 2)], timeouts: 0 },
        { cycles: [cycle(0, 1, 3)], timeouts: 0 },
      ],
      0,
      10,
    )
    expect(f.overlaps).toBe(1)
  })

  it('leaves out grants outside the measured window and reports a starved worker', () => {
    const f = analyseHandoff(
      [
        { cycles: [cycle(0, 1, 2), cycle(9, 12, 13)], timeouts: 0 },
        { cycles: [], timeouts: 0 },
      ],
      0,
      10,
    )
    expect(f.cyclesPerS).toBeCloseTo(100)
    expect(f.sharesPct).toEqual([100, 0])
  })

  it('counts contested grants that went to the worker that asked first', () => {
    const f = analyseHandoff(
      [
        // Worker 0 asks at 0 and gets it at 0 (uncontested), asks again at 2.5, granted at 5.
        { cycles: [cycle(0, 0, 2), cycle(2.5, 5, 6)], timeouts: 0 },
        // Worker 1 asks at 1 (before worker 0's second request) and is granted at 2.1: in order.
        { cycles: [cycle(1, 2.1, 3)], timeouts: 0 },
        // Worker 2 asks at 1.5 but is only granted at 8, after worker 0 (asked 2.5): out of order at 5.
        { cycles: [cycle(1.5, 8, 9)], timeouts: 0 },
      ],
      0,
      10,
    )
    // Grants at 2.1 (rival worker 2 pending since 1.5: in order), at 5 (rival 2 asked 1.5 < 2.5: out of order),
    // at 8 (nobody else pending: not contested); the grant at 0 had no rival either.
    expect(f.contested).toBe(2)
    expect(f.inOrderPct).toBeCloseTo(50)
    expect(f.acquireMs).toHaveLength(4)
    expect(f.allGrants).toBe(4)
  })
})

describe('mergeHandoff', () => {
  it('pools the latencies of the passes, sums the counts and weighs shares by grants', () => {
    const a = analyseHandoff(
      [
        { cycles: [cycle(0, 0, 1), cycle(1.2, 2.2, 3)], timeouts: 0 },
        { cycles: [cycle(0.5, 1.1, 2)], timeouts: 1 },
      ],
      0,
      10,
    )
    const b = analyseHandoff(
      [
        { cycles: [cycle(20, 20, 21)], timeouts: 0 },
        { cycles: [cycle(20.2, 21.9, 22)], timeouts: 0 },
      ],
      20,
      30,
    )
    const m = mergeHandoff([a, b])
    expect([...m.idleMs].sort((x, y) => x - y)).toEqual(
      [...a.idleMs, ...b.idleMs].sort((x, y) => x - y),
    )
    // idle: a 0.1 (1 -> 1.1), 0.2 (2 -> 2.2); b 0.9 (21 -> 21.9): median of the pool
    expect(m.idleP50Ms).toBeCloseTo(0.2)
    expect(m.acquireMaxMs).toBeCloseTo(1.7)
    expect(m.grants).toBe(5)
    expect(m.timeouts).toBe(1)
    expect(m.cyclesPerS).toBeCloseTo((a.cyclesPerS + b.cyclesPerS) / 2)
    // shares: a 66.7/33.3 over 3 grants, b 50/50 over 2
    expect(m.sharesPct[0]).toBeCloseTo((200 + 100) / 5)
    expect(m.sharesPct[1]).toBeCloseTo((100 + 100) / 5)
    expect(mergeHandoff([a])).toBe(a)
    expect(() => mergeHandoff([])).toThrow()
  })
})
