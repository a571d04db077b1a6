import { type ChildProcess, spawn } from 'node:child_process'
import { join } from 'node:path'
import { driverRequest } from '@baton-lock/core/driver'
import { ensureBuilt, startZookeeper } from '@baton-lock/test-matrix'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { ZookeeperDriver } from '../src/index.js'

let server: Awaited<ReturnType<typeof startZookeeper>>
const children: ChildProcess[] = []
const fixture = join(import.meta.dirname, 'fixtures/hold-lock.mjs')

beforeAll(async () => {
  ensureBuilt(['packages/core', 'packages/zookeeper'])
  server = await startZookeeper()
}, 240_000)
afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL')
  await server?.stop()
})

/** A holder process and the lines it printed so far. */
function holder(key: string, ttlMs: number) {
  const child = spawn(process.execPath, [fixture, server.url, key, String(ttlMs)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  children.push(child)
  const lines: string[] = []
  let buffer = ''
  child.stdout?.on('data', (chunk: Buffer) => {
    buffer += chunk.toString()
    const parts = buffer.split('\n')
    buffer = parts.pop() ?? ''
    lines.push(...parts)
  })
  const held = new Promise<{ fence: bigint }>((resolve, reject) => {
    const timer = setInterval(() => {
      const line = lines.find((l) => l.startsWith('held '))
      if (line === undefined) return
      clearInterval(timer)
      resolve({ fence: BigInt(line.split(' ')[1] ?? '0') })
    }, 10)
    child.once('exit', (code) => {
      clearInterval(timer)
      reject(new Error(`holder exited with ${code} before holding`))
    })
  })
  /** The end of validity the holder last reported (hrtime ns). */
  const validUntilNs = () => {
    let last = 0n
    for (const line of lines) {
      const [verb, , maybe] = line.split(' ')
      if (verb === 'held') last = BigInt(maybe ?? '0')
      if (verb === 'valid') last = BigInt(line.split(' ')[1] ?? '0')
    }
    return last
  }
  return { child, lines, held, validUntilNs }
}

test('L1: SIGKILL of a holder process: the key is free once its session times out', async () => {
  const key = 'death:sigkill'
  const ttlMs = 2_000
  const h = holder(key, ttlMs)
  const { fence } = await h.held
  const driver = new ZookeeperDriver({ url: server.url, minSessionTimeoutMs: 500 })
  try {
    expect(await driver.acquire(driverRequest(key))).toBeNull()
    const exited = new Promise((resolve) => h.child.once('exit', resolve))
    const killedAt = performance.now()
    h.child.kill('SIGKILL')
    await exited
    const lease = await driver.acquire(driverRequest(key, { waitMs: 20_000 }))
    const tookMs = performance.now() - killedAt
    console.info(
      `zookeeper: lock free ${Math.round(tookMs)} ms after SIGKILL of its holder (session timeout ${ttlMs} ms)`,
    )
    expect(lease).not.toBeNull()
    // ZooKeeper expires the session, not the socket: not before about a session timeout
    expect(tookMs).toBeGreaterThan(ttlMs / 2)
    expect(tookMs).toBeLessThan(ttlMs + 3_000)
    expect((lease?.fence ?? 0n) > fence).toBe(true)
    if (lease) await driver.release(lease)
  } finally {
    await driver.close()
  }
})

test('S1/N1: a holder paused (SIGSTOP) beyond its session timeout is invalid before anyone else is granted, and sees the loss on resume', async () => {
  const key = 'death:sigstop'
  const ttlMs = 2_000
  const h = holder(key, ttlMs)
  const { fence } = await h.held
  const driver = new ZookeeperDriver({ url: server.url, minSessionTimeoutMs: 500 })
  try {
    // renewals keep it across more than one TTL
    const until = performance.now() + 1.5 * ttlMs
    while (performance.now() < until) {
      expect(await driver.acquire(driverRequest(key))).toBeNull()
      await new Promise((r) => setTimeout(r, 200))
    }
    const pausedAt = performance.now()
    h.child.kill('SIGSTOP')
    const lease = await driver.acquire(driverRequest(key, { waitMs: 20_000 }))
    const grantedNs = process.hrtime.bigint()
    const tookMs = performance.now() - pausedAt
    expect(lease).not.toBeNull()
    const lastValidNs = h.validUntilNs()
    console.info(
      `zookeeper: paused holder's validity ended ${Number(grantedNs - lastValidNs) / 1e6} ms before the key was granted elsewhere, ${Math.round(tookMs)} ms after SIGSTOP (ttlMs ${ttlMs})`,
    )
    expect(lastValidNs).toBeGreaterThan(0n)
    expect(lastValidNs < grantedNs).toBe(true)
    expect((lease?.fence ?? 0n) > fence).toBe(true)
    h.child.kill('SIGCONT')
    const deadline = performance.now() + 10_000
    while (!h.lines.includes('lost') && performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20))
    }
    expect(h.lines).toContain('lost')
    if (lease) await driver.release(lease)
  } finally {
    h.child.kill('SIGKILL')
    await driver.close()
  }
})
