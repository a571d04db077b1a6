import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { SQLITE_CAPABILITIES } from '@baton-lock/sqlite'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CliProcess } from './cli-harness.js'
import { buildCli, runCli, startCli, tempDir, waitUntil } from './cli-harness.js'

// `baton run --shared` and `baton run --semaphore N` on the embedded default, SQLite,
// each process a separate baton (separate drivers), as users run them. What SQLite
// declares both modes; the refusal of a driver without one is tested on MySQL (cli-mysql).
const dir = tempDir()
const url = `sqlite:${join(dir, 'locks.db')}`
const holdUntil = new URL('./fixtures/hold-until.mjs', import.meta.url).pathname
const node = process.execPath
const capabilities = SQLITE_CAPABILITIES as { sharedLocks?: boolean; semaphores?: boolean }

beforeAll(() => buildCli(), 180_000)
afterAll(() => rmSync(dir, { recursive: true, force: true }))

interface Hold {
  readonly fence: bigint
  readonly mode: string
  readonly startMs: number
  readonly endMs: number
}

/** The holds a hold-until.mjs log records, by pid. */
function readHolds(logPath: string): Hold[] {
  const byPid = new Map<string, { fence: string; mode: string; start?: number; end?: number }>()
  for (const line of readFileSync(logPath, 'utf8').trim().split('\n')) {
    const [what, atMs, fence, mode, pid] = line.split(' ') as [
      string,
      string,
      string,
      string,
      string,
    ]
    const entry = byPid.get(pid) ?? { fence, mode }
    if (what === 'start') entry.start = Number(atMs)
    else entry.end = Number(atMs)
    byPid.set(pid, entry)
  }
  return [...byPid.values()].map((e) => ({
    fence: BigInt(e.fence),
    mode: e.mode,
    startMs: e.start ?? Number.NaN,
    endMs: e.end ?? Number.NaN,
  }))
}

/** Most holds at once over the log (an end at the same instant as a start counts first). */
function maxConcurrent(holds: readonly Hold[]): number {
  const edges = holds.flatMap((h) => [
    [h.startMs, 1],
    [h.endMs, -1],
  ])
  edges.sort((a, b) => (a[0] as number) - (b[0] as number) || (a[1] as number) - (b[1] as number))
  let now = 0
  let most = 0
  for (const [, delta] of edges) {
    now += delta as number
    most = Math.max(most, now)
  }
  return most
}

const starts = (log: string) =>
  readFileSync(log, 'utf8')
    .split('\n')
    .filter((line) => line.startsWith('start ')).length

async function finish(procs: readonly CliProcess[]): Promise<void> {
  for (const r of await Promise.all(procs.map((p) => p.done))) expect(r.code, r.stderr).toBe(0)
}

describe('baton run --shared / --semaphore: bad input', () => {
  it.each([
    [['--semaphore', '0'], /^baton: invalid --semaphore: "0" \(.*from 1 to 10000\)\n$/],
    [['--semaphore', 'x'], /^baton: invalid --semaphore: "x" /],
    [['--semaphore', '10001'], /^baton: invalid --semaphore: "10001" /],
    [['--semaphore', '-1'], /^baton: invalid --semaphore: "-1" /],
    [['--semaphore', '2.5'], /^baton: invalid --semaphore: "2.5" /],
    [['--semaphore'], /^baton: missing argument for baton run /], // NAME taken as N
    [
      ['--shared', '--semaphore', '2'],
      /^baton: --shared and --semaphore exclude each other \(see baton run --help\)\n$/,
    ],
  ])('%j is a usage error (exit 2), CMD not run', async (flags, message) => {
    const ran = join(dir, 'bad-input.ran')
    const touch = `require('node:fs').writeFileSync(${JSON.stringify(ran)}, 'x')`
    const r = await runCli(['run', ...flags, 'k', '--url', url, '--', node, '-e', touch], dir)
    expect(r.code, r.stderr).toBe(2)
    expect(r.stderr).toMatch(message)
    expect(r.stderr).not.toMatch(/\n\s+at /)
    expect(() => readFileSync(ran)).toThrow()
  })
})

it('SQLite, the embedded default, declares both modes (the groups below are not conditional)', () => {
  expect(capabilities.sharedLocks).toBe(true)
  expect(capabilities.semaphores).toBe(true)
})

describe('baton run --shared on SQLite', () => {
  it('two shared runs overlap; an exclusive run waits for both and gets a higher fence', async () => {
    const log = join(dir, 'shared.log')
    const go = join(dir, 'shared.go')
    writeFileSync(log, '')
    const readers = [1, 2].map(() =>
      startCli(['run', '--shared', 'catalog', '--url', url, '--', node, holdUntil, log, go], dir),
    )
    // Both readers hold at once: neither ends before GO exists.
    await waitUntil(() => starts(log) === 2, 30_000, 'both shared runs to hold the lock')
    const status = await runCli(['status', 'catalog', '--url', url, '--json'], dir)
    expect(status.code, status.stderr).toBe(0)
    expect(JSON.parse(status.stdout)).toMatchObject({
      key: 'catalog',
      held: true,
      mode: 'shared',
      holders: 2,
    })
    const writer = startCli(['run', 'catalog', '--url', url, '--', node, holdUntil, log, go], dir)
    // Give the writer time to be waiting; the check below does not depend on it.
    await new Promise((resolve) => setTimeout(resolve, 500))
    expect(starts(log), 'the exclusive run started beside shared holders').toBe(2)
    writeFileSync(go, '')
    await finish([...readers, writer])
    const holds = readHolds(log)
    expect(holds.map((h) => h.mode).sort()).toEqual(['exclusive', 'shared', 'shared'])
    const shared = holds.filter((h) => h.mode === 'shared')
    const exclusive = holds.find((h) => h.mode === 'exclusive') as Hold
    expect(maxConcurrent(shared)).toBe(2)
    for (const reader of shared) {
      expect(exclusive.startMs).toBeGreaterThanOrEqual(reader.endMs)
      expect(exclusive.fence).toBeGreaterThan(reader.fence)
    }
  })
})

describe('baton run --semaphore on SQLite', () => {
  it('--semaphore 2 admits two of three; the third runs once one left', async () => {
    const log = join(dir, 'semaphore.log')
    const go = join(dir, 'semaphore.go')
    writeFileSync(log, '')
    const args = ['run', '--semaphore', '2', 'vendor-api', '--url', url, '--']
    const runs = [1, 2, 3].map(() => startCli([...args, node, holdUntil, log, go], dir))
    await waitUntil(() => starts(log) === 2, 30_000, 'two permits to be held')
    await new Promise((resolve) => setTimeout(resolve, 500))
    expect(starts(log), 'a third permit was granted').toBe(2)
    const status = await runCli(['status', '--semaphore', 'vendor-api', '--url', url], dir)
    expect(status.code, status.stderr).toBe(0)
    expect(status.stdout).toMatch(/^vendor-api: held semaphore, 2 of 2 permits/)
    // The lock of the same name is another resource: free while the semaphore is full.
    const lock = await runCli(
      ['run', 'vendor-api', '--url', url, '--skip-if-held', '--', node, '-e', ''],
      dir,
    )
    expect(lock.code, lock.stderr).toBe(0)
    // Another N than the holders' is the caller's mistake; SQLite keeps the limit with the permits.
    const other = await runCli(
      ['run', '--semaphore', '3', 'vendor-api', '--url', url, '--', node, '-e', ''],
      dir,
    )
    expect(other.code, other.stderr).toBe(2)
    expect(other.stderr).toBe(
      'baton: semaphore "vendor-api" is held with limit 2; this acquire asked for limit 3\n',
    )
    const skipped = await runCli(
      [...args.slice(0, -1), '--skip-if-held', '--', node, '-e', ''],
      dir,
    )
    expect(skipped.code).toBe(4)
    expect(skipped.stderr).toBe('baton: semaphore "vendor-api" has all 2 permits held; skipped\n')
    writeFileSync(go, '')
    await finish(runs)
    const holds = readHolds(log)
    expect(holds).toHaveLength(3)
    expect(holds.every((h) => h.mode === 'semaphore')).toBe(true)
    expect(maxConcurrent(holds)).toBe(2)
  })
})
