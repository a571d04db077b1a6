import { type ChildProcess, spawn } from 'node:child_process'
import { join } from 'node:path'
import { Locker } from '@baton-lock/core'
import { uniqueKey } from '@baton-lock/core/driver'
import { RedisDriver } from '@baton-lock/redis'
import { type ServerHandle, startRedis } from '@baton-lock/test-matrix'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'

// Expiry per holder: a holder process SIGSTOPped (it cannot renew) loses its share or permit
// at its own expiry while the renewing holder in this process keeps its own. Children run
// the built packages (`pnpm -r build` first).

const fixture = join(import.meta.dirname, 'fixtures/holder.mjs')
const TTL_MS = 1_500
let server: ServerHandle
const children: ChildProcess[] = []
const lockers: Locker[] = []

beforeAll(async () => {
  server = await startRedis()
})
afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null) {
      child.kill('SIGCONT')
      child.kill('SIGKILL')
    }
  }
  await Promise.allSettled(lockers.splice(0).map((l) => l.close()))
})
afterAll(async () => {
  await server?.stop()
})

async function locker(): Promise<Locker> {
  const l = new Locker(await RedisDriver.connect({ url: server.url, onWarning: () => {} }), {
    ttlMs: TTL_MS,
  })
  lockers.push(l)
  return l
}

function holder(key: string, mode: 'shared' | 'semaphore') {
  const child = spawn(process.execPath, [fixture, server.url, key, mode, String(TTL_MS)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  children.push(child)
  const lines: string[] = []
  child.stdout?.on('data', (chunk: Buffer) => lines.push(...chunk.toString().split('\n')))
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
  return { child, lines, exited }
}

describe('a SIGSTOPped holder expires on its own, the others stay', () => {
  it('semaphore (limit 2): a waiter gets the stopped holder permit within its TTL; the renewing holder keeps its own', async () => {
    const [a, b] = [await locker(), await locker()]
    const key = uniqueKey('sem-stop')
    const child = holder(key, 'semaphore')
    await expect
      .poll(() => child.lines.some((l) => l.startsWith('held ')), { timeout: 20_000 })
      .toBe(true)
    const mine = await a.semaphore(key, { limit: 2 }).acquire()
    expect(await b.semaphore(key, { limit: 2 }).tryAcquire()).toBeNull()
    child.child.kill('SIGSTOP')
    // bounded by the wait: the stopped permit ends at most one TTL after its last renewal
    const next = await b.semaphore(key, { limit: 2 }).acquire({ waitMs: 4 * TTL_MS })
    expect(next.fence).toBeGreaterThan(mine.fence)
    expect(mine.isValid()).toBe(true)
    expect(await a.semaphore(key, { limit: 2 }).inspect()).toMatchObject({ holders: 2, limit: 2 })
    child.child.kill('SIGCONT') // its renewal fails: it learns it lost the permit
    expect(await child.exited).toBe(0)
    expect(child.lines).toContain('lost')
    await next.release()
    await mine.release()
  })

  it('shared: a writer gets the key once the stopped reader expired and the renewing reader released', async () => {
    const [a, b] = [await locker(), await locker()]
    const key = uniqueKey('shared-stop')
    const child = holder(key, 'shared')
    await expect
      .poll(() => child.lines.some((l) => l.startsWith('held ')), { timeout: 20_000 })
      .toBe(true)
    const mine = await a.acquire(key, { mode: 'shared' })
    child.child.kill('SIGSTOP')
    await new Promise((r) => setTimeout(r, 2 * TTL_MS))
    expect(mine.isValid()).toBe(true)
    expect(await b.inspect(key)).toMatchObject({ mode: 'shared', holders: 1, owner: mine.owner })
    expect(await b.tryAcquire(key)).toBeNull()
    await mine.release()
    const w = await b.acquire(key, { waitMs: TTL_MS })
    expect(w.fence).toBeGreaterThan(mine.fence)
    child.child.kill('SIGCONT')
    expect(await child.exited).toBe(0)
    expect(child.lines).toContain('lost')
    await w.release()
  })
})
