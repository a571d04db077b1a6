import { type ChildProcess, spawn } from 'node:child_process'
import { join } from 'node:path'
import { driverRequest } from '@baton-lock/core/driver'
import { ensureBuilt, startPostgres } from '@baton-lock/test-matrix'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { PostgresDriver } from '../src/index.js'
import { holdersInSql, must, rawClient } from './driver-helpers.js'

let server: Awaited<ReturnType<typeof startPostgres>>
let child: ChildProcess | undefined
const fixture = join(import.meta.dirname, 'fixtures/hold-lock.mjs')

beforeAll(async () => {
  ensureBuilt(['packages/core', 'packages/postgres'])
  server = await startPostgres()
}, 240_000)
afterAll(async () => {
  if (child?.exitCode === null) child.kill('SIGKILL')
  await server?.stop()
})

/** Resolves with the child's first stdout line. */
function firstLine(proc: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = ''
    proc.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      if (out.includes('\n')) resolve(out.split('\n')[0] ?? '')
    })
    proc.once('exit', (code) => reject(new Error(`holder exited with ${code} before holding`)))
  })
}

test('L1: SIGKILL of a holder process frees its lock at once (the server sees the socket close)', async () => {
  const key = 'sigkill:holder'
  child = spawn(process.execPath, [fixture, server.url, key, '60000'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const line = await firstLine(child)
  expect(line).toMatch(/^held \d+$/)
  const heldFence = BigInt(line.split(' ')[1] ?? '0')
  const client = await rawClient(server.url)
  const driver = new PostgresDriver({ url: server.url })
  try {
    expect((await holdersInSql(client, key)).length).toBe(1)
    expect(await driver.acquire(driverRequest(key))).toBeNull()
    const exited = new Promise((resolve) => child?.once('exit', resolve))
    const killedAt = performance.now()
    child.kill('SIGKILL')
    await exited
    // a server-side wait, granted when the dead backend goes away; the holder's TTL was 60 s
    const lease = must(await driver.acquire(driverRequest(key, { waitMs: 10_000 })))
    const tookMs = performance.now() - killedAt
    console.info(`postgres: lock free ${Math.round(tookMs)} ms after SIGKILL of its holder`)
    expect(tookMs).toBeLessThan(5_000)
    expect(lease.fence > heldFence).toBe(true)
    await driver.release(lease)
  } finally {
    await driver.close()
    await client.end()
  }
})

test('L1: a paused holder (SIGSTOP) loses its lock within ttlMs: idle_session_timeout ends its session', async () => {
  const key = 'sigstop:holder'
  const ttlMs = 2_000
  child = spawn(process.execPath, [fixture, server.url, key, String(ttlMs)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const line = await firstLine(child)
  expect(line).toMatch(/^held \d+$/)
  const driver = new PostgresDriver({ url: server.url })
  try {
    // while it renews, the holder keeps the key across several TTLs
    const until = performance.now() + 2.5 * ttlMs
    while (performance.now() < until) {
      expect(await driver.acquire(driverRequest(key))).toBeNull()
      await new Promise((r) => setTimeout(r, 250))
    }
    const pausedAt = performance.now()
    child.kill('SIGSTOP')
    const lease = must(await driver.acquire(driverRequest(key, { waitMs: 20_000 })))
    const tookMs = performance.now() - pausedAt
    console.info(
      `postgres: lock free ${Math.round(tookMs)} ms after SIGSTOP of its holder (ttlMs ${ttlMs})`,
    )
    expect(tookMs).toBeGreaterThan(ttlMs / 3)
    expect(tookMs).toBeLessThan(ttlMs + 3_000)
    await driver.release(lease)
  } finally {
    child.kill('SIGKILL')
    await driver.close()
  }
})
