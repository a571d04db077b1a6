import { type ChildProcess, spawn } from 'node:child_process'
import { join } from 'node:path'
import { driverRequest } from '@baton-lock/core/driver'
import { ensureBuilt, startMariadb } from '@baton-lock/test-matrix'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { lockName, MysqlDriver } from '../src/index.js'
import { must, rawConnection, sql } from './driver-helpers.js'

let server: Awaited<ReturnType<typeof startMariadb>>
let child: ChildProcess | undefined
const fixture = join(import.meta.dirname, 'fixtures/hold-lock.mjs')
const nowMs = () => Number(process.hrtime.bigint()) / 1e6

beforeAll(async () => {
  ensureBuilt(['packages/core', 'packages/mysql'])
  server = await startMariadb()
}, 240_000)
afterAll(async () => {
  if (child?.exitCode === null) child.kill('SIGKILL')
  await server?.stop()
})

/** The holder's stdout lines as they come. */
function holder(key: string, ttlMs: number): { proc: ChildProcess; lines: string[] } {
  const proc = spawn(process.execPath, [fixture, server.url, key, String(ttlMs)], {
    stdio: ['ignore', 'pipe', 'inherit'],
    cwd: join(import.meta.dirname, '..'),
  })
  const lines: string[] = []
  let out = ''
  proc.stdout?.on('data', (chunk: Buffer) => {
    out += chunk.toString()
    const parts = out.split('\n')
    out = parts.pop() ?? ''
    lines.push(...parts)
  })
  child = proc
  return { proc, lines }
}

async function until(condition: () => boolean | Promise<boolean>, timeoutMs: number) {
  const start = performance.now()
  while (!(await condition())) {
    if (performance.now() - start > timeoutMs) throw new Error(`not met in ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

test('L1: SIGKILL of a holder process frees its lock at once (the server sees the socket close)', async () => {
  const key = 'sigkill:holder'
  const { proc, lines } = holder(key, 60_000)
  await until(() => lines.some((l) => l.startsWith('held ')), 20_000)
  const heldFence = BigInt(lines[0]?.split(' ')[1] ?? '0')
  const admin = await rawConnection(server.url)
  const driver = new MysqlDriver({ url: server.url })
  try {
    const [row] = await sql(admin, 'SELECT IS_USED_LOCK(?) AS id', [lockName(key)])
    expect(row?.id).not.toBeNull()
    expect(await driver.acquire(driverRequest(key))).toBeNull()
    const exited = new Promise((resolve) => proc.once('exit', resolve))
    const killedAt = performance.now()
    proc.kill('SIGKILL')
    await exited
    // a server-side wait, granted when the dead connection goes away; the holder's TTL was 60 s
    const lease = must(await driver.acquire(driverRequest(key, { waitMs: 10_000 })))
    const tookMs = performance.now() - killedAt
    console.info(`mysql: lock free ${Math.round(tookMs)} ms after SIGKILL of its holder`)
    expect(tookMs).toBeLessThan(2_000)
    expect(lease.fence > heldFence).toBe(true)
    await driver.release(lease)
  } finally {
    await driver.close()
    admin.destroy()
  }
})

test('L1/S1: a paused holder (SIGSTOP) loses its lock within ttlMs (wait_timeout), and its validity ended before the next grant was even asked for', async () => {
  const key = 'sigstop:holder'
  const ttlMs = 2_000
  const { proc, lines } = holder(key, ttlMs)
  await until(() => lines.some((l) => l.startsWith('held ')), 20_000)
  const driver = new MysqlDriver({ url: server.url })
  try {
    // while it renews, the holder keeps the key across several TTLs
    const keepUntil = performance.now() + 2.5 * ttlMs
    while (performance.now() < keepUntil) {
      expect(await driver.acquire(driverRequest(key))).toBeNull()
      await new Promise((r) => setTimeout(r, 250))
    }
    const pausedAt = performance.now()
    proc.kill('SIGSTOP')
    // one-shot tries, so the grant happened after the successful try was sent
    let sentAtMs = 0
    let lease = null
    while (lease === null) {
      expect(performance.now() - pausedAt).toBeLessThan(ttlMs + 5_000)
      await new Promise((r) => setTimeout(r, 50))
      sentAtMs = nowMs()
      lease = await driver.acquire(driverRequest(key))
    }
    const tookMs = performance.now() - pausedAt
    proc.kill('SIGCONT')
    // the resumed holder prints its validity deadline (no renewal can succeed any more)
    await new Promise((r) => setTimeout(r, 300))
    const valids = lines.filter((l) => l.startsWith('valid ')).map((l) => Number(l.split(' ')[1]))
    const lastValidUntil = valids[valids.length - 1] ?? Number.POSITIVE_INFINITY
    console.info(
      `mysql: lock free ${Math.round(tookMs)} ms after SIGSTOP of its holder (ttlMs ${ttlMs}); ` +
        `holder validity ended ${Math.round(sentAtMs - lastValidUntil)} ms before the winning try was sent`,
    )
    expect(tookMs).toBeGreaterThan(ttlMs / 3)
    expect(tookMs).toBeLessThan(ttlMs + 3_000)
    expect(lastValidUntil).toBeLessThan(sentAtMs)
    await driver.release(lease)
  } finally {
    proc.kill('SIGKILL')
    await driver.close()
  }
})
