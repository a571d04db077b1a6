import { type ChildProcess, spawn } from 'node:child_process'
import { join } from 'node:path'
import { ensureBuilt, startEtcd } from '@baton-lock/test-matrix'
import { afterAll, afterEach, beforeAll, expect, test } from 'vitest'
import { Lines, lockerFor, stop } from './helpers.js'

let server: Awaited<ReturnType<typeof startEtcd>>
const children: ChildProcess[] = []
const fixture = join(import.meta.dirname, 'fixtures/hold-lock.mjs')

beforeAll(async () => {
  ensureBuilt(['packages/core', 'packages/etcd'])
  server = await startEtcd()
}, 240_000)
afterEach(async () => {
  await Promise.all(children.splice(0).map((c) => stop(c, 'SIGKILL')))
})
afterAll(async () => {
  await server?.stop()
})

function holder(key: string, ttlMs: number): { proc: ChildProcess; lines: Lines } {
  const proc = spawn(process.execPath, [fixture, server.url, key, String(ttlMs)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  children.push(proc)
  return { proc, lines: new Lines(proc) }
}

/** The latest validity end the holder reported, on the shared monotonic clock (ns). */
function lastValidUntilNs(lines: readonly string[]): bigint {
  let last = 0n
  for (const line of lines) {
    const value = line.startsWith('held ') ? line.split(' ')[2] : line.split(' ')[1]
    if (value !== undefined && BigInt(value) > last) last = BigInt(value)
  }
  return last
}

test('L1: SIGKILL of a holder frees its lock within the granted TTL, after its validity ended', async () => {
  const key = 'sigkill-holder'
  const ttlMs = 3_000
  const child = holder(key, ttlMs)
  const heldLine = await child.lines.next(/^held /, 15_000)
  const heldFence = BigInt(heldLine.split(' ')[1] ?? '0')
  const locker = lockerFor(server.url)
  try {
    expect(await locker.tryAcquire(key)).toBeNull()
    const killedAt = performance.now()
    await stop(child.proc, 'SIGKILL')
    const handle = await locker.acquire(key, { waitMs: ttlMs + 5_000 })
    const grantedNs = process.hrtime.bigint()
    const tookMs = performance.now() - killedAt
    console.info(
      `etcd: lock free ${Math.round(tookMs)} ms after SIGKILL of its holder (ttl ${ttlMs} ms)`,
    )
    expect(tookMs).toBeLessThan(ttlMs + 1_500)
    expect(grantedNs > lastValidUntilNs(child.lines.lines)).toBe(true)
    expect(handle.fence > heldFence).toBe(true)
    await handle.release()
  } finally {
    await locker.close()
  }
})

test('SIGSTOP of a holder longer than its TTL: its validity ends before anyone else is granted', async () => {
  const key = 'sigstop-holder'
  const ttlMs = 2_000
  const child = holder(key, ttlMs)
  await child.lines.next(/^held /, 15_000)
  const locker = lockerFor(server.url)
  try {
    // While it renews, the holder keeps the key across several TTLs.
    await child.lines.next(/^valid /, 3 * ttlMs)
    const until = performance.now() + 2 * ttlMs
    while (performance.now() < until) {
      expect(await locker.tryAcquire(key)).toBeNull()
      await new Promise((r) => setTimeout(r, 200))
    }
    const pausedAt = performance.now()
    child.proc.kill('SIGSTOP')
    const handle = await locker.acquire(key, { waitMs: ttlMs + 10_000 })
    const grantedNs = process.hrtime.bigint()
    const tookMs = performance.now() - pausedAt
    // Pipes to a parent are written synchronously: every line the holder wrote is here.
    await new Promise((r) => setTimeout(r, 50))
    const validUntilNs = lastValidUntilNs(child.lines.lines)
    const marginMs = Number(grantedNs - validUntilNs) / 1e6
    console.info(
      `etcd: lock free ${Math.round(tookMs)} ms after SIGSTOP (ttl ${ttlMs} ms); the paused holder's validity had ended ${Math.round(marginMs)} ms before`,
    )
    expect(marginMs).toBeGreaterThan(0)
    expect(tookMs).toBeLessThan(ttlMs + 3_000)
    await handle.release()
  } finally {
    child.proc.kill('SIGCONT')
    await locker.close()
  }
})
