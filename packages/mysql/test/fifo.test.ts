import { type ChildProcess, spawn } from 'node:child_process'
import { join } from 'node:path'
import { driverRequest } from '@baton-lock/core/driver'
import { ensureBuilt, startMariadb } from '@baton-lock/test-matrix'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { lockName, MysqlDriver } from '../src/index.js'
import { must, rawConnection, sql, until } from './driver-helpers.js'

let server: Awaited<ReturnType<typeof startMariadb>>
const children: ChildProcess[] = []
const fixture = join(import.meta.dirname, 'fixtures/wait-lock.mjs')

beforeAll(async () => {
  ensureBuilt(['packages/core', 'packages/mysql'])
  server = await startMariadb()
}, 240_000)
afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL')
  await server?.stop()
})

/** A waiter process and its stdout lines as they come. */
function waiter(key: string): { proc: ChildProcess; lines: string[] } {
  const proc = spawn(process.execPath, [fixture, server.url, key], {
    stdio: ['ignore', 'pipe', 'inherit'],
    cwd: join(import.meta.dirname, '..'),
  })
  children.push(proc)
  const lines: string[] = []
  let out = ''
  proc.stdout?.on('data', (chunk: Buffer) => {
    out += chunk.toString()
    const parts = out.split('\n')
    out = parts.pop() ?? ''
    lines.push(...parts)
  })
  return { proc, lines }
}

test('FIFO: waiters in separate processes are granted in the order their waits reached the server', async () => {
  const admin = await rawConnection(server.url)
  const driver = new MysqlDriver({ url: server.url })
  const rounds = 2
  const count = 4
  try {
    for (let round = 0; round < rounds; round++) {
      const key = `fifo:${round}`
      const name = lockName(key)
      // no heartbeats here: a TTL (wait_timeout) far beyond the time the waiters take to start
      const held = must(await driver.acquire(driverRequest(key, { ttlMs: 600_000 })))
      // connections blocked in GET_LOCK on this name, as the server lists them
      const queued = async () => {
        const [row] = await sql(
          admin,
          "SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE STATE = 'User lock' AND INFO LIKE ?",
          [`%${name}%`],
        )
        return Number(row?.n)
      }
      const waiters: Array<ReturnType<typeof waiter>> = []
      for (let i = 0; i < count; i++) {
        const w = waiter(key)
        waiters.push(w)
        // the next one starts only once this one's wait is queued on the server
        await until(async () => (await queued()) === i + 1, 30_000)
      }
      // still held by us until now: nobody was granted before this release
      expect(await driver.release(held)).toBe(true)
      await until(() => waiters.every((w) => w.lines.includes('released')), 30_000)
      const fences = waiters.map((w) => {
        const line = must(w.lines.find((l) => l.startsWith('granted ')))
        return BigInt(line.split(' ')[1] ?? '0')
      })
      console.info(
        `mysql: FIFO round ${round}: waiters in arrival order got fences ${fences.join(', ')}`,
      )
      // fences rise in grant order (S3), so arrival order = grant order iff they rise in arrival order
      expect(fences[0]).toBe(held.fence + 1n)
      for (let i = 1; i < count; i++) expect(fences[i]).toBe(must(fences[i - 1]) + 1n)
      await Promise.all(
        waiters.map((w) =>
          w.proc.exitCode !== null ? undefined : new Promise((r) => w.proc.once('exit', r)),
        ),
      )
    }
  } finally {
    await driver.close()
    admin.destroy()
  }
}, 180_000)
