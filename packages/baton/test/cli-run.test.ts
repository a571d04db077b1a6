import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildCli, runCli, startCli, tempDir, waitUntil } from './cli-harness.js'

const dir = tempDir()
const url = `sqlite:${join(dir, 'locks.db')}`
const fixture = (name: string) => new URL(`./fixtures/${name}`, import.meta.url).pathname
const node = process.execPath

beforeAll(() => buildCli(), 180_000)
afterAll(() => rmSync(dir, { recursive: true, force: true }))

interface Hold {
  readonly fence: bigint
  readonly startMs: number
  readonly endMs: number
}

function readHolds(logPath: string): Hold[] {
  const byFence = new Map<string, { start?: number; end?: number }>()
  for (const line of readFileSync(logPath, 'utf8').trim().split('\n')) {
    const [what, atMs, fence] = line.split(' ') as [string, string, string]
    const entry = byFence.get(fence) ?? {}
    if (what === 'start') entry.start = Number(atMs)
    else entry.end = Number(atMs)
    byFence.set(fence, entry)
  }
  return [...byFence].map(([fence, e]) => ({
    fence: BigInt(fence),
    startMs: e.start ?? Number.NaN,
    endMs: e.end ?? Number.NaN,
  }))
}

describe('baton run', () => {
  it('never lets two concurrent runs hold the lock at once', async () => {
    const log = join(dir, 'overlap.log')
    writeFileSync(log, '')
    const RUNS = 4
    const results = await Promise.all(
      Array.from({ length: RUNS }, () =>
        runCli(['run', 'overlap', '--url', url, '--', node, fixture('hold.mjs'), log, '150'], dir),
      ),
    )
    for (const r of results) expect(r.code, r.stderr).toBe(0)
    const holds = readHolds(log).sort((a, b) => a.startMs - b.startMs)
    expect(holds).toHaveLength(RUNS)
    for (const [i, hold] of holds.entries()) {
      expect(hold.endMs, `hold ${i} ended`).toBeGreaterThan(hold.startMs)
      if (i === 0) continue
      const prev = holds[i - 1] as Hold
      expect(hold.startMs, `hold ${i} starts after hold ${i - 1} ends`).toBeGreaterThanOrEqual(
        prev.endMs,
      )
      expect(hold.fence, `fence of hold ${i}`).toBeGreaterThan(prev.fence)
    }
  })

  it('exports BATON_LOCK_KEY and BATON_LOCK_FENCE and passes the exit code through', async () => {
    const script =
      'console.log(process.env.BATON_LOCK_KEY, process.env.BATON_LOCK_FENCE); process.exit(7)'
    const r = await runCli(['run', 'env-key', '--url', url, '--', node, '-e', script], dir)
    expect(r.code).toBe(7)
    expect(r.stdout).toMatch(/^env-key \d+\n$/)
    const ok = await runCli(['run', 'env-key', '--url', url, '--', node, '-e', ''], dir)
    expect(ok.code).toBe(0)
  })

  it('reports a command ended by a signal as 128+N, a missing command as 127, a non-executable one as 126', async () => {
    const killed = await runCli(
      ['run', 'sig', '--url', url, '--', node, '-e', "process.kill(process.pid, 'SIGTERM')"],
      dir,
    )
    expect(killed.code).toBe(143)
    const missing = await runCli(['run', 'sig', '--url', url, '--', 'baton-no-such-command'], dir)
    expect(missing.code).toBe(127)
    expect(missing.stderr).toBe('baton: command not found: baton-no-such-command\n')
    const script = join(dir, 'not-executable.sh')
    writeFileSync(script, '#!/bin/sh\nexit 0\n', { mode: 0o644 })
    const denied = await runCli(['run', 'sig', '--url', url, '--', script], dir)
    expect(denied.code, denied.stderr).toBe(126)
    expect(denied.stderr).toMatch(/^baton: cannot run .*not-executable\.sh: .*EACCES/)
  })

  it('exits 4 at once with --skip-if-held, and 3 when --wait runs out', async () => {
    const marker = join(dir, 'skip.marker')
    const holder = startCli(
      ['run', 'busy', '--url', url, '--', node, fixture('until-term.mjs'), marker],
      dir,
    )
    try {
      await waitUntil(() => existsSync(marker), 20_000, 'the holder to start its command')
      const skipped = await runCli(
        ['run', 'busy', '--url', url, '--skip-if-held', '--', node, '-e', 'process.exit(9)'],
        dir,
      )
      expect(skipped.code).toBe(4)
      expect(skipped.stderr).toBe('baton: lock "busy" is held elsewhere; skipped\n')
      const timedOut = await runCli(
        ['run', 'busy', '--url', url, '--wait', '300ms', '--', node, '-e', ''],
        dir,
      )
      expect(timedOut.code).toBe(3)
      expect(timedOut.elapsedMs).toBeGreaterThanOrEqual(300)
    } finally {
      holder.child.kill('SIGTERM')
    }
    // SIGTERM to baton is forwarded; the command exits 0 on it, and so does baton.
    expect((await holder.done).code).toBe(0)
    expect(readFileSync(marker, 'utf8')).toBe('term')
  })

  it('--conflict-exit-code N replaces 3 and 4 (flock -E); CMD never runs', async () => {
    const marker = join(dir, 'conflict.marker')
    const ran = join(dir, 'conflict.ran')
    const holder = startCli(
      ['run', 'conflict', '--url', url, '--', node, fixture('until-term.mjs'), marker],
      dir,
    )
    const touch = [
      '--',
      node,
      '-e',
      `require('node:fs').writeFileSync(${JSON.stringify(ran)}, 'x')`,
    ]
    try {
      await waitUntil(() => existsSync(marker), 20_000, 'the holder to start its command')
      const skipped = await runCli(
        ['run', 'conflict', '--url', url, '--skip-if-held', '--conflict-exit-code', '75', ...touch],
        dir,
      )
      expect(skipped.code, skipped.stderr).toBe(75)
      expect(skipped.stderr).toBe('baton: lock "conflict" is held elsewhere; skipped\n')
      const timedOut = await runCli(
        ['run', 'conflict', '--url', url, '--wait', '200ms', '--conflict-exit-code=0', ...touch],
        dir,
      )
      expect(timedOut.code, timedOut.stderr).toBe(0)
      expect(timedOut.stderr).toBe('baton: lock "conflict" not acquired within 200ms\n')
      expect(existsSync(ran)).toBe(false)
    } finally {
      holder.child.kill('SIGTERM')
    }
    expect((await holder.done).code).toBe(0)
    // Once free, the code is CMD's own again.
    const free = await runCli(
      ['run', 'conflict', '--url', url, '--conflict-exit-code', '75', ...touch],
      dir,
    )
    expect(free.code, free.stderr).toBe(0)
    expect(existsSync(ran)).toBe(true)
  })

  it('--json: acquired and released as JSON lines on stderr, stdout left to CMD', async () => {
    const r = await runCli(
      ['run', 'json-run', '--url', url, '--json', '--', node, '-e', 'console.log("from cmd")'],
      dir,
    )
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toBe('from cmd\n')
    const events = r.stderr
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line))
    expect(events).toHaveLength(2)
    expect(events[0]).toMatchObject({ event: 'acquired', key: 'json-run', url })
    expect(events[0].fence).toMatch(/^\d+$/)
    expect(events[0].owner).toMatch(/^[0-9a-f-]{16,}$/)
    expect(events[1]).toEqual({ ...events[0], event: 'released' })
  })

  it('stops the command with SIGTERM and exits 5 when the lock is lost', async () => {
    const marker = join(dir, 'lost.marker')
    const ttlMs = 1_500
    const holder = startCli(
      [
        'run',
        'lose-me',
        '--url',
        url,
        '--ttl',
        `${ttlMs}ms`,
        '--grace',
        '2s',
        '--',
        node,
        fixture('until-term.mjs'),
        marker,
      ],
      dir,
    )
    await waitUntil(() => existsSync(marker), 20_000, 'the holder to start its command')
    const freed = await runCli(['release', '--force', '--yes', 'lose-me', '--url', url], dir)
    expect(freed.stdout).toBe('lose-me: released by force\n')
    const result = await holder.done
    expect(result.code, result.stderr).toBe(5)
    expect(readFileSync(marker, 'utf8')).toBe('term')
    expect(result.stderr).toMatch(/lost.*stopping the command/)
  })

  it('sends SIGKILL after --grace when the command ignores SIGTERM, and still exits 5', async () => {
    const marker = join(dir, 'stubborn.marker')
    const holder = startCli(
      [
        'run',
        'stubborn',
        '--url',
        url,
        '--ttl',
        '1500ms',
        '--grace',
        '500ms',
        '--',
        node,
        fixture('ignore-term.mjs'),
        marker,
      ],
      dir,
    )
    await waitUntil(() => existsSync(marker), 20_000, 'the holder to start its command')
    await runCli(['release', '--force', '--yes', 'stubborn', '--url', url], dir)
    const result = await holder.done
    expect(result.code, result.stderr).toBe(5)
    expect(readFileSync(marker, 'utf8')).toBe('ignored SIGTERM')
  })
})
