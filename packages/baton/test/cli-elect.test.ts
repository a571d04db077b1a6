import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CliProcess } from './cli-harness.js'
import { buildCli, runCli, startCli, tempDir, waitUntil } from './cli-harness.js'

// `baton elect` on the embedded default, SQLite: an election is the key's exclusive lock
// with a value, so it runs on every backend. Each candidate is its own baton process.
const dir = tempDir()
const url = `sqlite:${join(dir, 'locks.db')}`
const leader = new URL('./fixtures/leader.mjs', import.meta.url).pathname
const node = process.execPath
const TTL_MS = 1_500

beforeAll(() => buildCli(), 180_000)
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** The "start PID FENCE VALUE" and "term PID FENCE" lines of a leader.mjs log. */
function events(log: string): string[][] {
  return readFileSync(log, 'utf8')
    .trim()
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => line.split(' '))
}

const startsOf = (log: string) => events(log).filter((e) => e[0] === 'start')

function candidate(name: string, log: string, value: string, extra: string[] = []): CliProcess {
  const args = ['elect', name, '--url', url, '--ttl', `${TTL_MS}ms`, '--value', value]
  return startCli([...args, '--grace', '2s', ...extra, '--', node, leader, log], dir)
}

describe('baton elect', () => {
  it('a second candidate takes over when the leader process is killed; SIGTERM resigns', async () => {
    const log = join(dir, 'takeover.log')
    writeFileSync(log, '')
    const first = candidate('coordinator', log, 'host-a')
    await waitUntil(() => startsOf(log).length === 1, 30_000, 'the first candidate to lead')
    const second = candidate('coordinator', log, 'host-b')
    const status = await runCli(['status', 'coordinator', '--url', url, '--json'], dir)
    expect(status.code, status.stderr).toBe(0)
    const [, firstPid, firstFence, firstValue] = startsOf(log)[0] as string[]
    expect(firstValue).toBe('host-a')
    expect(JSON.parse(status.stdout)).toMatchObject({
      key: 'coordinator',
      held: true,
      fence: firstFence,
    })

    // The first leader's baton dies without a word; its CMD is killed with it (an orphan
    // would hold the test's pipes open). The lease then runs out unrenewed.
    first.child.kill('SIGKILL')
    process.kill(Number(firstPid), 'SIGKILL')
    expect((await first.done).signal).toBe('SIGKILL')
    await waitUntil(() => startsOf(log).length === 2, TTL_MS * 10, 'the second candidate to lead')
    const [, , secondFence, secondValue] = startsOf(log)[1] as string[]
    expect(secondValue).toBe('host-b')
    expect(BigInt(secondFence as string)).toBeGreaterThan(BigInt(firstFence as string))

    // SIGTERM is forwarded to CMD (which exits 0); baton resigns and exits with CMD's code.
    second.child.kill('SIGTERM')
    const result = await second.done
    expect(result.code, result.stderr).toBe(0)
    expect(events(log).at(-1)?.[0]).toBe('term')
    const after = await runCli(['status', 'coordinator', '--url', url], dir)
    expect(after.code, after.stdout).toBe(1)
  })

  it('stops the leader CMD and exits 8 when its lock is force-released', async () => {
    const log = join(dir, 'forced.log')
    writeFileSync(log, '')
    const only = candidate('forced', log, 'host-a', ['--json'])
    await waitUntil(() => startsOf(log).length === 1, 30_000, 'the candidate to lead')
    const freed = await runCli(['release', '--force', '--yes', 'forced', '--url', url], dir)
    expect(freed.stdout).toBe('forced: released by force\n')
    const result = await only.done
    expect(result.code, result.stderr).toBe(8)
    expect(events(log).map((e) => e[0])).toEqual(['start', 'term'])
    expect(result.stderr).toMatch(/leadership of "forced" lost \(.*\); stopping the command/)
    const json = result.stderr
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line))
    expect(json.map((e) => e.event)).toEqual(['elected', 'lost'])
    expect(json[0]).toMatchObject({ key: 'forced', mode: 'exclusive', value: 'host-a', url })
  })

  it('--recampaign: after a forced release it leads again and restarts CMD', async () => {
    const log = join(dir, 'recampaign.log')
    writeFileSync(log, '')
    const only = candidate('again', log, 'host-a', ['--recampaign'])
    await waitUntil(() => startsOf(log).length === 1, 30_000, 'the candidate to lead')
    await runCli(['release', '--force', '--yes', 'again', '--url', url], dir)
    await waitUntil(() => startsOf(log).length === 2, TTL_MS * 10, 'the candidate to lead again')
    const fences = startsOf(log).map((e) => BigInt(e[2] as string))
    expect(fences[1] as bigint).toBeGreaterThan(fences[0] as bigint)
    expect(events(log).map((e) => e[0])).toEqual(['start', 'term', 'start'])
    only.child.kill('SIGTERM')
    const result = await only.done
    expect(result.code, result.stderr).toBe(0)
    expect(result.stderr).toMatch(/campaigning again for "again"/)
  })

  it('--wait: exits 3 when not elected in time; a signal ends a campaign with 128+N', async () => {
    const log = join(dir, 'wait.log')
    writeFileSync(log, '')
    const holder = candidate('busy', log, 'host-a')
    try {
      await waitUntil(() => startsOf(log).length === 1, 30_000, 'the candidate to lead')
      const late = await runCli(
        ['elect', 'busy', '--url', url, '--wait', '300ms', '--', node, '-e', ''],
        dir,
      )
      expect(late.code, late.stderr).toBe(3)
      expect(late.stderr).toBe('baton: leadership of "busy" not acquired within 300ms\n')
      const waiting = startCli(['elect', 'busy', '--url', url, '-v', '--', node, '-e', ''], dir)
      await waitUntil(() => waiting.stderr().includes('campaigning'), 30_000, 'the campaign')
      waiting.child.kill('SIGINT')
      expect((await waiting.done).code).toBe(130)
    } finally {
      holder.child.kill('SIGTERM')
    }
    expect((await holder.done).code).toBe(0)
  })

  it('bad input is a usage error (exit 2)', async () => {
    const noCmd = await runCli(['elect', 'x', '--url', url], dir)
    expect(noCmd.code).toBe(2)
    expect(noCmd.stderr).toBe(
      'baton: missing command: baton elect NAME [options] -- CMD [ARGS...]\n',
    )
    const big = await runCli(
      ['elect', 'x', '--url', url, '--value', 'v'.repeat(1025), '--', 'true'],
      dir,
    )
    expect(big.code).toBe(2)
    expect(big.stderr).toBe('baton: --value is 1025 UTF-8 bytes; at most 1024\n')
    const ttl = await runCli(['elect', 'x', '--url', url, '--ttl', 'soon', '--', 'true'], dir)
    expect(ttl.code).toBe(2)
  })
})
