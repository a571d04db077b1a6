import { createServer, type Server, type Socket } from 'node:net'
import { isLockError, type LockBackendError } from '@baton-lock/core'
import { toBackendError } from '@baton-lock/core/driver'
import { freePort, startPostgres } from '@baton-lock/test-matrix'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { PostgresDriver } from '../src/index.js'

const PASSWORD = 'R3ady-pa55word'
const CONNECT_TIMEOUT_MS = 1_000
let server: Awaited<ReturnType<typeof startPostgres>>
let silent: Server
const sockets = new Set<Socket>()

beforeAll(async () => {
  server = await startPostgres({ password: PASSWORD })
  // accepts TCP connections and never says a word: a firewall-dropped or hung server
  silent = createServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
})
afterAll(async () => {
  for (const socket of sockets) socket.destroy()
  await new Promise((resolve) => silent?.close(resolve))
  await server?.stop()
})

/** `ready()`'s failure as `connect(url)` reports it, and how long it took. */
async function readyError(url: string): Promise<{ err: LockBackendError; tookMs: number }> {
  const driver = PostgresDriver.fromUrl(url)
  const startMs = performance.now()
  try {
    const err = await driver.ready().then(
      () => undefined,
      (e: unknown) => toBackendError(driver.name, e),
    )
    const tookMs = performance.now() - startMs
    expect(isLockError(err, 'LOCK_BACKEND')).toBe(true)
    return { err: err as LockBackendError, tookMs }
  } finally {
    await driver.close()
  }
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url)
  parsed.pathname = `/${database}`
  return parsed.toString()
}

describe('ready() proves the server answers', () => {
  test('resolves against a live server, and again (idempotent)', async () => {
    const driver = PostgresDriver.fromUrl(server.url)
    try {
      await driver.ready()
      await driver.ready()
      expect(driver.sessionCount).toBeGreaterThanOrEqual(1)
    } finally {
      await driver.close()
    }
  })

  test('a refused port fails fast with a redacted LockBackendError', async () => {
    const url = `postgres://postgres:${PASSWORD}@127.0.0.1:${await freePort()}/postgres`
    const { err, tookMs } = await readyError(url)
    expect(err.message).toMatch(/ECONNREFUSED|connect/)
    expect(`${err.message} ${err.stack}`).not.toContain(PASSWORD)
    expect(tookMs).toBeLessThan(10 * CONNECT_TIMEOUT_MS)
  })

  test('an unknown database fails with a LockBackendError naming it', async () => {
    const url = withDatabase(server.url, 'no_such_database_here')
    const { err } = await readyError(`${url}${url.includes('?') ? '&' : '?'}connect_timeout=1`)
    expect(err.message).toMatch(/no_such_database_here/)
    expect(`${err.message} ${err.stack}`).not.toContain(PASSWORD)
  })

  test('a silent port fails within connectTimeoutMs (plus slack), not never', async () => {
    const { port } = silent.address() as { port: number }
    const driver = new PostgresDriver({
      url: `postgres://postgres:${PASSWORD}@127.0.0.1:${port}/postgres`,
      connectTimeoutMs: CONNECT_TIMEOUT_MS,
    })
    const startMs = performance.now()
    try {
      const err = await driver.ready().then(
        () => undefined,
        (e: unknown) => toBackendError(driver.name, e),
      )
      expect(isLockError(err, 'LOCK_BACKEND')).toBe(true)
      expect(performance.now() - startMs).toBeLessThan(10 * CONNECT_TIMEOUT_MS)
      expect(`${(err as Error).message} ${(err as Error).stack}`).not.toContain(PASSWORD)
    } finally {
      await driver.close()
    }
  })
})
