import { describe, expect, it } from 'vitest'
import { backendNamed } from '../src/backends.js'
import { TINY } from '../src/profile.js'
import { runBenchmark } from '../src/run-benchmark.js'
import type { HandoffCycle } from '../src/scenarios/handoff-protocol.js'
import { analyseSemaphore, analyseShared, mostAtOnce } from '../src/scenarios/modes-analysis.js'

const hold = (fromMs: number, toMs: number, requestedAtMs = fromMs): HandoffCycle => ({
  requestedAtMs,
  acquiredAtMs: fromMs,
  releasingAtMs: toMs,
  releasedAtMs: toMs + 0.1,
})

describe('shared-lock and semaphore analysis', () => {
  it('counts holds open at once; an end at the instant of a start is not an overlap', () => {
    expect(mostAtOnce([])).toBe(0)
    expect(mostAtOnce([hold(0, 1), hold(1, 2), hold(2, 3)])).toBe(1)
    expect(mostAtOnce([hold(0, 3), hold(1, 2), hold(1.5, 4)])).toBe(3)
  })

  it('shared: readers may overlap, a writer beside any holder is counted', () => {
    const readers = { cycles: [hold(0, 2), hold(3, 5)], timeouts: 0 }
    const reader2 = { cycles: [hold(1, 4)], timeouts: 1 }
    const clean = analyseShared(
      [readers, reader2, { cycles: [hold(6, 7, 2)], timeouts: 0 }],
      2,
      0,
      1000,
    )
    expect(clean.writerOverlaps).toBe(0)
    expect(clean.mostReaders).toBe(2)
    expect(clean.readerPerS).toBe(3)
    expect(clean.writerPerS).toBe(1)
    expect(clean.writerAcquireP50Ms).toBe(4)
    expect(clean.writerSharePct).toBe(25)
    expect(clean.timeouts).toBe(1)
    const broken = analyseShared(
      [readers, reader2, { cycles: [hold(4.5, 6)], timeouts: 0 }],
      2,
      0,
      1000,
    )
    expect(broken.writerOverlaps).toBe(1)
    const starved = analyseShared([readers, reader2, { cycles: [], timeouts: 2 }], 2, 0, 1000)
    expect(starved.writerSharePct).toBe(0)
    expect(Number.isNaN(starved.writerAcquireP99Ms)).toBe(true)
  })

  it('semaphore: the peak of holders over the round, grants counted in the window only', () => {
    const f = analyseSemaphore(
      [
        { cycles: [hold(0, 2), hold(10, 12)], timeouts: 0 },
        { cycles: [hold(1, 3, 0)], timeouts: 0 },
        { cycles: [hold(2.5, 4, 0)], timeouts: 0 },
      ],
      1,
      11,
    )
    expect(f.mostHolders).toBe(2)
    expect(f.perS).toBe(300)
    expect(f.acquireP99Ms).toBe(2.5)
  })
})

// The bench's decision follows the driver's declaration (the smoke test checks the figures
// of every backend): for the file and in-process backends, whose drivers need no server.
describe.each(['memory', 'sqlite'])(
  'shared and semaphore scenarios follow capabilities: %s',
  (backend) => {
    it('runs the scenario exactly when the driver declares the mode', async () => {
      const spec = backendNamed(backend)
      const probe = await spec.createDriver({ url: ':memory:' })
      const caps = probe.capabilities
      await probe.close()
      const lines: string[] = []
      const report = await runBenchmark({
        backends: [backend],
        scenarios: ['shared', 'semaphore'],
        profile: { ...TINY, modes: { ...TINY.modes, readers: [1], durationMs: 100 } },
        log: (line) => lines.push(line),
      })
      const rows = report.results.rows()
      expect(rows.filter((r) => r.notes.length > 0).map((r) => r.notes[0])).toEqual([])
      const ran = (prefix: string) =>
        rows.some((r) => r.scenario.startsWith(prefix) && r.role === 'baton')
      expect(ran('shared lock')).toBe(caps.sharedLocks)
      expect(ran('semaphore,')).toBe(caps.semaphores)
      expect(lines.some((l) => l.includes(`shared ${backend}: skipped`))).toBe(!caps.sharedLocks)
      expect(lines.some((l) => l.includes(`semaphore ${backend}: skipped`))).toBe(!caps.semaphores)
    }, 120_000)
  },
)
