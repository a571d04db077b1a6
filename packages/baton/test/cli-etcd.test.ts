import { existsSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { startEtcd } from '@baton-lock/test-matrix'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildCli, expectSerialRuns, runCli, startCli, tempDir, waitUntil } from './cli-harness.js'

// Every `baton` command on the etcd:// scheme, against an etcd the test matrix starts.
const dir = tempDir()
let server: Awaited<ReturnType<typeof startEtcd>>

beforeAll(async () => {
  buildCli(['packages/etcd'])
  server = await startEtcd()
}, 180_000)
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true })
  await server?.stop()
})

describe('baton CLI on etcd', () => {
  it('baton run: concurrent runs never overlap, fences increase', async () => {
    await expectSerialRuns(server.url, 'cli-etcd', dir)
  })

  it('baton status, ls and release --force on a held lock', async () => {
    const script =
      "require('node:fs').writeFileSync(process.argv[1], ''); setTimeout(() => {}, 60_000)"
    const marker = join(dir, 'etcd-status.marker')
    const holder = startCli(
      [
        'run',
        'report:1',
        '--url',
        server.url,
        '--ttl',
        '3s',
        '--',
        process.execPath,
        '-e',
        script,
        marker,
      ],
      dir,
    )
    try {
      await waitUntil(() => existsSync(marker), 20_000, 'the holder to start')
      const json = await runCli(['status', 'report:1', '--url', server.url, '--json'], dir)
      expect(json.code, json.stderr).toBe(0)
      const info = JSON.parse(json.stdout)
      expect(info).toMatchObject({ key: 'report:1', held: true })
      expect(BigInt(info.fence)).toBeGreaterThan(0n)
      const text = await runCli(['status', 'report:1', '--url', server.url], dir)
      expect(text.stdout).toMatch(/^report:1: held, fence \d+, lease [\d.]+s left/)
      const ls = await runCli(['ls', 'report:', '--url', server.url, '--json'], dir)
      expect(JSON.parse(ls.stdout)).toEqual([
        expect.objectContaining({ key: 'report:1', held: true }),
      ])
      const none = await runCli(['ls', 'other:', '--url', server.url], dir)
      expect(none.stdout).toBe('no locks held\n')
      const forced = await runCli(
        ['release', '--force', '--yes', 'report:1', '--url', server.url],
        dir,
      )
      expect(forced.code, forced.stderr).toBe(0)
      // The holder learns of the loss at its next renewal and stops its command.
      const done = await holder.done
      expect(done.code).not.toBe(0)
    } finally {
      holder.child.kill('SIGTERM')
    }
    const free = await runCli(['status', 'report:1', '--url', server.url, '--json'], dir)
    expect(JSON.parse(free.stdout)).toEqual({ key: 'report:1', held: false })
  }, 60_000)
})
