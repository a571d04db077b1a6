/**
 * What core adds over bare MemoryDriver calls, per uncontended acquire+release cycle, and
 * what 10,000 held locks cost in memory and timers. Not part of the published API.
 * Run after a build: `pnpm --filter @baton-lock/core bench` (compiles this folder to .cache/bench, then node --expose-gc).
 */
import { type Clock, Locker, MemoryDriver, systemClock, type TimerHandle } from '@baton-lock/core'

const CYCLES = 50_000
const RUNS = 5
const HELD = 10_000

/** The system clock, counting the timers set through it that are still pending. */
class CountingClock implements Clock {
  readonly pending = new Set<TimerHandle>()
  now(): number {
    return systemClock.now()
  }
  setTimeout(fn: () => void, ms: number): TimerHandle {
    const handle = systemClock.setTimeout(() => {
      this.pending.delete(handle)
      fn()
    }, ms)
    this.pending.add(handle)
    return handle
  }
  clearTimeout(handle: TimerHandle): void {
    this.pending.delete(handle)
    systemClock.clearTimeout(handle)
  }
}

/** Wall and CPU (user + system) time per cycle, in ns; CPU time is steadier on a shared machine. */
interface Cost {
  readonly wallNs: number
  readonly cpuNs: number
}

async function measure(cycle: () => Promise<void>): Promise<Cost> {
  const cpuStart = process.cpuUsage()
  const started = process.hrtime.bigint()
  for (let i = 0; i < CYCLES; i++) await cycle()
  const wallNs = Number(process.hrtime.bigint() - started) / CYCLES
  const cpu = process.cpuUsage(cpuStart)
  return { wallNs, cpuNs: ((cpu.user + cpu.system) * 1000) / CYCLES }
}

async function bareCycle(): Promise<Cost> {
  const driver = new MemoryDriver()
  const signal = new AbortController().signal
  const req = {
    key: 'bench',
    owner: '0123456789abcdef0123456789abcdef',
    ttlMs: 30_000,
    waitMs: 0,
    mode: 'exclusive' as const,
    signal,
  }
  const cost = await measure(async () => {
    const lease = await driver.acquire(req)
    if (lease === null) throw new Error('bare acquire failed')
    await driver.release(lease)
  })
  await driver.close()
  return cost
}

async function coreCycle(): Promise<Cost> {
  const locker = new Locker(new MemoryDriver())
  const cost = await measure(async () => {
    const lock = await locker.acquire('bench')
    await lock.release()
  })
  await locker.close()
  return cost
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] as number
}

function heapUsed(): number {
  const gc = (globalThis as { gc?: () => void }).gc
  gc?.()
  gc?.()
  return process.memoryUsage().heapUsed
}

interface HeldCost {
  readonly bareBytes: number
  readonly coreBytes: number
  readonly coreTimers: number
  readonly driverTimers: number
  readonly coreTimersAfterClose: number
}

/** Heap per held lease on a bare MemoryDriver, then per Locker handle (with its lease), and timers. */
async function holdMany(): Promise<HeldCost> {
  const clock = new CountingClock()
  const driverClock = new CountingClock()
  const locker = new Locker(new MemoryDriver({ clock: driverClock }), { clock })
  const bareDriver = new MemoryDriver()
  const signal = new AbortController().signal

  const heapStart = heapUsed()
  const bare = []
  for (let i = 0; i < HELD; i++) {
    const req = {
      key: `k${i}`,
      owner: `o${i}`,
      ttlMs: 30_000,
      waitMs: 0,
      mode: 'exclusive' as const,
      signal,
    }
    bare.push(await bareDriver.acquire(req))
  }
  const heapBare = heapUsed()
  const handles = []
  for (let i = 0; i < HELD; i++) handles.push(await locker.acquire(`k${i}`))
  const heapCore = heapUsed()
  const cost = {
    bareBytes: (heapBare - heapStart) / HELD,
    coreBytes: (heapCore - heapBare) / HELD,
    coreTimers: clock.pending.size,
    driverTimers: driverClock.pending.size,
  }
  await locker.close()
  await bareDriver.close()
  if (handles.some((h) => h.isValid()) || bare.length !== HELD) throw new Error('not all released')
  return { ...cost, coreTimersAfterClose: clock.pending.size }
}

async function heldLocks(): Promise<void> {
  const runs: HeldCost[] = []
  for (let run = 0; run < 3; run++) runs.push(await holdMany())
  const bareBytes = median(runs.map((r) => r.bareBytes))
  const coreBytes = median(runs.map((r) => r.coreBytes))
  const kb = (bytes: number) => `${bytes.toFixed(0)} B`
  console.log(`\n${HELD.toLocaleString('en')} held locks, median of ${runs.length} runs`)
  console.log(`  heap per lock, bare MemoryDriver lease:      ${kb(bareBytes)}`)
  console.log(`  heap per lock, Locker handle + its lease:    ${kb(coreBytes)}`)
  console.log(`  core adds per lock:                          ${kb(coreBytes - bareBytes)}`)
  console.log(`  core timers while held:                      ${runs[0]?.coreTimers}`)
  console.log(`  MemoryDriver's own lease-expiry timers:      ${runs[0]?.driverTimers}`)
  console.log(`  core timers after close:                     ${runs[0]?.coreTimersAfterClose}`)
}

async function main(): Promise<void> {
  // Warm up both paths so the JIT has settled before measuring.
  await bareCycle()
  await coreCycle()
  const bare: Cost[] = []
  const core: Cost[] = []
  for (let run = 0; run < RUNS; run++) {
    bare.push(await bareCycle())
    core.push(await coreCycle())
  }
  const us = (ns: number) => `${(ns / 1000).toFixed(2)} us`
  const row = (label: string, pick: (c: Cost) => number) => {
    const b = median(bare.map(pick))
    const c = median(core.map(pick))
    console.log(`  ${label.padEnd(5)} bare ${us(b)}  Locker ${us(c)}  core adds ${us(c - b)}/cycle`)
  }
  console.log(
    `uncontended acquire+release on MemoryDriver, median of ${RUNS} runs x ${CYCLES.toLocaleString('en')} cycles (target: core adds < 10 us)`,
  )
  row('wall', (c) => c.wallNs)
  row('cpu', (c) => c.cpuNs)
  await heldLocks()
}

await main()
