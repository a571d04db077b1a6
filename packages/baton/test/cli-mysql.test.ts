import { rmSync } from 'node:fs'
import { Locker } from '@baton-lock/core'
import { MysqlDriver } from '@baton-lock/mysql'
import { startMariadb } from '@baton-lock/test-matrix'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { buildCli, runCli, tempDir } from './cli-harness.js'

// `baton run/status/ls/release --force` on mysql:// and mariadb:// against the test
// matrix's own MariaDB (a free loopback port, never the machine's service).
const dir = tempDir()
let server: Awaited<ReturnType<typeof startMariadb>>

beforeAll(async () => {
  buildCli(['packages/mysql'])
  server = await startMariadb()
}, 240_000)
afterAll(async () => {
  await server?.stop()
  rmSync(dir, { recursive: true, force: true })
})

it('baton run holds the lock for the command and passes its fence', async () => {
  const first = await runCli(
    ['run', 'cli:run', '--url', server.url, '--', 'sh', '-c', 'echo $BATON_LOCK_FENCE'],
    dir,
  )
  expect(first.code, first.stderr).toBe(0)
  const url = server.url.replace(/^mysql:/, 'mariadb:')
  const second = await runCli(
    ['run', 'cli:run', '--url', url, '--', 'sh', '-c', 'echo $BATON_LOCK_FENCE'],
    dir,
  )
  expect(second.code, second.stderr).toBe(0)
  expect(BigInt(second.stdout.trim()) > BigInt(first.stdout.trim())).toBe(true)
})

it('baton status, ls and release --force see and free a lock another process holds', async () => {
  const locker = new Locker(new MysqlDriver({ url: server.url }))
  try {
    const handle = await locker.acquire('cli:held', { ttlMs: 60_000 })
    const status = await runCli(['status', 'cli:held', '--url', server.url, '--json'], dir)
    expect(status.code, status.stderr).toBe(0)
    // mode and holders join these where the driver reports them (shared locks, issue #22).
    expect(JSON.parse(status.stdout)).toMatchObject({
      key: 'cli:held',
      held: true,
      fence: String(handle.fence),
      owner: handle.owner,
    })
    const ls = await runCli(['ls', 'cli:', '--url', server.url, '--json'], dir)
    expect(ls.code, ls.stderr).toBe(0)
    expect(JSON.parse(ls.stdout).map((l: { key: string }) => l.key)).toEqual(['cli:held'])
    const refused = await runCli(['release', '--force', 'cli:held', '--url', server.url], dir)
    expect(refused.code).toBe(2)
    expect(handle.isValid()).toBe(true)
    const forced = await runCli(
      ['release', '--force', 'cli:held', '--yes', '--url', server.url],
      dir,
    )
    expect(forced.code, forced.stderr).toBe(0)
    // KILL of the holder's connection: the holder learns at once (N2)
    const start = performance.now()
    while (!handle.signal.aborted && performance.now() - start < 5_000) {
      await new Promise((r) => setTimeout(r, 20))
    }
    expect(handle.signal.aborted).toBe(true)
    const after = await runCli(['status', 'cli:held', '--url', server.url, '--json'], dir)
    expect(JSON.parse(after.stdout)).toEqual({ key: 'cli:held', held: false })
  } finally {
    await locker.close()
  }
})

it('a wrong password on mysql:// is exit code 7 (backend error) with the password redacted', async () => {
  const url = server.url.replace('mysql://root@', 'mysql://root:wrong-pa55@')
  const r = await runCli(['status', 'cli:x', '--url', url], dir)
  expect(r.code).toBe(7)
  expect(r.stderr).toMatch(/Access denied/)
  expect(r.stderr).not.toContain('wrong-pa55')
})

it('baton run --shared on MySQL (no shared locks) names the feature and the backend: exit 2, CMD not run, no stack trace', async () => {
  const r = await runCli(
    ['run', '--shared', 'cli:shared', '--url', server.url, '--', 'sh', '-c', 'echo ran'],
    dir,
  )
  expect(r.code).toBe(2)
  expect(r.stdout).toBe('')
  expect(r.stderr).toMatch(
    /^baton: the mysql driver does not support shared locks \(mysql:\/\/[^)]*\); its README lists the modes it has\n$/,
  )
})
