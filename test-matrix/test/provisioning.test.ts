import { chmodSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { afterEach, describe, expect, test } from 'vitest'
import {
  canInjectFaults,
  dockerAvailable,
  ExternalServerError,
  type ServerHandle,
  ServerStartError,
  startPostgres,
  startRedis,
  templateRoot,
} from '../src/index.js'
import { ownsListener } from '../src/process-tree.js'
import { skipIfExternal, useServer } from '../src/vitest.js'

const saved = { ...process.env }
afterEach(() => {
  process.env = { ...saved }
})

describe('BATON_REDIS_URL: an external server', () => {
  const owned = useServer(() => startRedis())

  test('is used as is: external, faults refused with a clear error, stop() leaves it running', async () => {
    process.env.BATON_REDIS_URL = owned().url.replace('redis://', 'redis://:hunter2@')
    const external = await startRedis()
    expect(external.external).toBe(true)
    expect(canInjectFaults(external)).toBe(false)
    expect(external.port).toBe(owned().port)
    const error = await external.kill().catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ExternalServerError)
    expect(String(error)).toMatch(/BATON_REDIS_URL=redis:\/\/:\*\*\*@127\.0\.0\.1/)
    expect(String(error)).not.toContain('hunter2')
    await expect(external.pause()).rejects.toThrow(/external server/)
    await external.stop()
    const client = new Redis(owned().url)
    try {
      expect(await client.ping()).toBe('PONG')
    } finally {
      client.disconnect()
    }
  })
})

describe('listener ownership (a probe must not accept another process on the same port)', () => {
  const redis = useServer(() => startRedis())

  test("ownsListener() tells the server's own port from a port another process listens on", async (ctx) => {
    skipIfExternal(ctx, redis())
    const native = redis() as ServerHandle & { pid: number }
    expect(ownsListener(native.pid, native.port)).toBe(true)
    const other = createServer()
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve))
    try {
      const address = other.address()
      const port = typeof address === 'object' && address ? address.port : 0
      expect(ownsListener(native.pid, port)).toBe(false)
      expect(ownsListener(process.pid, port)).toBe(true)
    } finally {
      other.close()
    }
  })
})

describe('provider selection and start failures', () => {
  test('the Docker check answers fast, and BATON_TEST_MATRIX_PROVIDER=native skips it', async () => {
    const start = performance.now()
    expect(typeof (await dockerAvailable())).toBe('boolean')
    expect(performance.now() - start).toBeLessThan(3_000)
    process.env.BATON_TEST_MATRIX_PROVIDER = 'native'
    expect(await dockerAvailable()).toBe(false)
  })

  test('BATON_TEST_MATRIX_PROVIDER=docker without an engine fails clearly', async (ctx) => {
    delete process.env.BATON_TEST_MATRIX_PROVIDER
    ctx.skip(await dockerAvailable(), 'a Docker engine answers on this machine')
    process.env.BATON_TEST_MATRIX_PROVIDER = 'docker'
    await expect(startRedis()).rejects.toThrow(
      /redis: starting redis:7\.0 through Docker \(testcontainers\) failed: .*BATON_TEST_MATRIX_PROVIDER=native/s,
    )
  })

  test('a server that cannot start fails with its log tail and leaves no directory', async () => {
    process.env.BATON_TEST_MATRIX_PROVIDER = 'native'
    const scratch = mkdtempSync(join(tmpdir(), 'baton-tm-provisioning-'))
    process.env.BATON_TEST_MATRIX_TMPDIR = scratch // the server directory goes in here
    try {
      const error = await startRedis({
        args: ['--no-such-directive', 'x'],
        name: 'broken-redis',
      }).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(ServerStartError)
      expect(String(error)).toMatch(/broken-redis on 127\.0\.0\.1:\d+ exited during start-up/)
      expect(String(error)).toMatch(/no-such-directive/i)
      expect(readdirSync(scratch)).toEqual([])
    } finally {
      rmSync(scratch, { recursive: true, force: true })
    }
  })

  test('concurrent PostgreSQL starts build one template under the lock and copy it', async () => {
    process.env.BATON_TEST_MATRIX_PROVIDER = 'native'
    const scratch = mkdtempSync(join(tmpdir(), 'baton-tm-provisioning-'))
    chmodSync(scratch, 0o755) // the postgres account must reach its directories
    process.env.BATON_TEST_MATRIX_TMPDIR = scratch
    try {
      const servers = await Promise.all([startPostgres(), startPostgres()])
      try {
        expect(servers[0]?.port).not.toBe(servers[1]?.port)
        expect(readdirSync(templateRoot()).filter((d) => d.startsWith('postgres-'))).toHaveLength(1)
        expect(readdirSync(templateRoot()).some((d) => /\.lock$|\.building-/.test(d))).toBe(false)
      } finally {
        await Promise.all(servers.map((s) => s.stop()))
      }
      expect(readdirSync(scratch)).toEqual(['baton-test-matrix-templates'])
    } finally {
      rmSync(scratch, { recursive: true, force: true })
    }
  })
})
