import { describe, expect, it } from 'vitest'
import { analyseHandoff } from '../src/scenarios/handoff-analysis.js'

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
})
