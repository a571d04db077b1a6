import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
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

  it('baton run --shared: two readers hold at once, a plain run waits for both (issue #22)', async () => {
    const log = join(dir, 'zk-shared.log')
    const go = join(dir, 'zk-shared.go')
    writeFileSync(log, '')
    const hold = [process.execPath, fixture('hold-until.mjs'), log, go]
    const starts = () =>
      readFileSync(log, 'utf8')
        .split('\n')
        .filter((l) => l.startsWith('start ')).length
    const readers = [1, 2].map(() =>
      startCli(['run', '--shared', 'zk:catalog', '--url', server.url, '--', ...hold], dir),
    )
    await waitUntil(() => starts() === 2, 30_000, 'both readers to hold the lock')
    const writer = startCli(['run', 'zk:catalog', '--url', server.url, '--', ...hold], dir)
    await new Promise((resolve) => setTimeout(resolve, 500))
    expect(starts(), 'the exclusive run started beside readers').toBe(2)
    writeFileSync(go, '')
    for (const r of await Promise.all([...readers, writer].map((p) => p.done))) {
      expect(r.code, r.stderr).toBe(0)
    }
    const lines = readFileSync(log, 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.split(' '))
    const writerPid = lines.find((l) => l[0] === 'start' && l[3] === 'exclusive')?.[4]
    const writerStart = Number(lines.find((l) => l[0] === 'start' && l[4] === writerPid)?.[1])
    for (const end of lines.filter((l) => l[0] === 'end' && l[3] === 'shared')) {
      expect(writerStart).toBeGreaterThanOrEqual(Number(end[1]))
    }
  })

  it('baton elect: a second candidate leads once the first leader is killed; status shows its value', async () => {
    const log = join(dir, 'zk-elect.log')
    writeFileSync(log, '')
    const starts = () =>
      readFileSync(log, 'utf8')
        .split('\n')
        .filter((l) => l.startsWith('start '))
        .map((l) => l.split(' '))
    const candidate = (value: string) =>
      startCli(
        [
          'elect',
          'zk:leader',
          '--url',
          server.url,
          '--ttl',
          '4s',
          '--value',
          value,
          '--',
          process.execPath,
          fixture('leader.mjs'),
          log,
        ],
        dir,
      )
    const first = candidate('zk-a')
    await waitUntil(() => starts().length === 1, 30_000, 'the first candidate to lead')
    const second = candidate('zk-b')
    const status = await runCli(['status', 'zk:leader', '--url', server.url, '--json'], dir)
    expect(status.code, status.stderr).toBe(0)
    const info = JSON.parse(status.stdout)
    // The lock- node's data is the value, as Curator's LeaderSelector participant id.
    expect(info).toMatchObject({ key: 'zk:leader', held: true, value: 'zk-a' })
    first.child.kill('SIGKILL')
    process.kill(Number(starts()[0]?.[1]), 'SIGKILL')
    await first.done
    await waitUntil(() => starts().length === 2, 60_000, 'the second candidate to lead')
    expect(starts()[1]?.[3]).toBe('zk-b')
    expect(BigInt(starts()[1]?.[2] as string)).toBeGreaterThan(BigInt(starts()[0]?.[2] as string))
    second.child.kill('SIGTERM')
    expect((await second.done).code).toBe(0)
  })
})
