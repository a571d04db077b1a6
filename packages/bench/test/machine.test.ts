import { describe, expect, it } from 'vitest'
import { busyShare, loadWindow, readCpuTicks } from '../src/machine.js'

describe('machine load', () => {
  it('busy share is the non-idle part of the tick delta', () => {
    expect(busyShare({ busy: 100, total: 400 }, { busy: 175, total: 500 })).toBeCloseTo(75)
    expect(Number.isNaN(busyShare(undefined, { busy: 1, total: 2 }))).toBe(true)
    expect(Number.isNaN(busyShare({ busy: 1, total: 2 }, { busy: 1, total: 2 }))).toBe(true)
  })

  it('reads /proc/stat on Linux and measures a window with load averages', async () => {
    const ticks = readCpuTicks()
    expect(ticks?.total).toBeGreaterThan(ticks?.busy ?? Number.POSITIVE_INFINITY)
    const end = loadWindow('spin')
    const until = performance.now() + 120
    while (performance.now() < until) Math.sqrt(Math.random())
    const w = end()
    expect(w.label).toBe('spin')
    expect(w.busyPct).toBeGreaterThan(0)
    expect(w.busyPct).toBeLessThanOrEqual(100)
    expect(w.loadStart).toHaveLength(3)
    expect(w.loadEnd).toHaveLength(3)
  })
})
