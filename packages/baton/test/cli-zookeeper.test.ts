import { existsSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import type { ServerHandle } from '@baton-lock/test-matrix'
import { startZookeeper } from '@baton-lock/test-matrix'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildCli, expectSerialRuns, runCli, startCli, tempDir, waitUntil } from './cli-harness.js'

// Every `baton` command on zk:// against a ZooKeeper the test matrix starts.
const dir = tempDir()
const fixture = (name: string) => new URL(`./fixtures/${name}`, import.meta.url).pathname
let server: ServerHandle

beforeAll(async () => {
  buildCli(['packages/zookeeper'])
  server = await startZookeeper()
}, 240_000)
afterAll(async () => {
  await server?.stop()
  rmSync(dir, { recursive: true, force: true })
})

describe('baton CLI on zookeeper', () => {
  it('baton run: concurrent runs never overlap, fences increase', async () => {
    await expectSerialRuns(server.url, 'cli-zk', dir)
  })

  it('baton status, ls and release --force on a held key', async () => {
    const marker = join(dir, 'zk.marker')
    const holder = startCli(
      [
        'run',
        'report:zk',
        '--url',
        server.url,
        '--ttl',
        '6s',
        '--',
        process.execPath,
        fixture('until-term.mjs'),
        marker,
      ],
      dir,
    )
    try {
      await waitUntil(() => existsSync(marker), 30_000, 'the holder to start')
      const json = await runCli(['status', 'report:zk', '--url', server.url, '--json'], dir)
      expect(json.code, json.stderr).toBe(0)
      expect(JSON.parse(json.stdout)).toMatchObject({ key: 'report:zk', held: true })
      expect(JSON.parse(json.stdout).fence).toMatch(/^\d+$/)
      const ls = await runCli(['ls', 'report:', '--url', server.url, '--json'], dir)
      expect(JSON.parse(ls.stdout)).toEqual([
        expect.objectContaining({ key: 'report:zk', held: true }),
      ])
      const none = await runCli(['ls', 'other:', '--url', server.url], dir)
      expect(none.stdout).toBe('no locks held\n')
      const forced = await runCli(
        ['release', 'report:zk', '--force', '--yes', '--url', server.url],
        dir,
      )
      expect(forced.code, forced.stderr).toBe(0)
      // the holder sees its node gone at its next renewal and stops its child
      await waitUntil(
        () => readFileSync(marker, 'utf8') === 'term',
        20_000,
        'the child to be stopped',
      )
    } finally {
      holder.child.kill('SIGTERM')
    }
    const done = await holder.done
    expect(done.code).not.toBe(0)
    const free = await runCli(['status', 'report:zk', '--url', server.url, '--json'], dir)
    expect(JSON.parse(free.stdout)).toEqual({ key: 'report:zk', held: false })
  })
})
