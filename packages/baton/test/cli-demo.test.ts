import { existsSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildCli, runCli, startCli, tempDir, waitUntil } from './cli-harness.js'

const dir = tempDir()

beforeAll(() => buildCli(), 180_000)
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('baton demo', () => {
  it('on the embedded default: every check holds and the summary says lost updates: 0', async () => {
    // No --url and no BATON_URL: the default sqlite:.baton/locks.db under the working directory.
    const r = await runCli(['demo', '--workers', '3', '--increments', '40'], dir)
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toBe('')
    expect(r.stdout).toContain('3 workers x 40 increments on sqlite:.baton/locks.db')
    expect(r.stdout).toMatch(/acquisitions\s+120 in [\d.]+ s \(\d+\/s\)/)
    expect(r.stdout).toMatch(/handoff latency\s+p50 [\d.]+ ms, p99 [\d.]+ ms/)
    expect(r.stdout).toMatch(/strictly increasing: yes/)
    expect(r.stdout).toMatch(/overlapping holds\s+0\s+ok/)
    expect(r.stdout).toMatch(/final counter\s+120 \(expected 120\)\s+ok/)
    expect(r.stdout).toMatch(/lost updates: 0\n/)
    expect(r.stdout).toMatch(/PASS/)
    // Not a terminal: progress comes as plain lines, no carriage returns.
    expect(r.stdout).not.toContain('\r')
  })

  it('continues fences across runs (durable within the file), and leaves no lock held', async () => {
    const url = `sqlite:${join(dir, 'again.db')}`
    const first = await runCli(['demo', '--url', url, '--workers', '2', '--increments', '5'], dir)
    expect(first.code, first.stderr).toBe(0)
    expect(first.stdout).toMatch(/fences\s+1 \.\. 10,/)
    const second = await runCli(['demo', '--url', url, '--workers', '2', '--increments', '5'], dir)
    expect(second.stdout).toMatch(/fences\s+11 \.\. 20,/)
    const ls = await runCli(['ls', '--url', url, '--json'], dir)
    expect(JSON.parse(ls.stdout)).toEqual([])
  })
})

describe('baton status and ls', () => {
  it('report a held lock as text and JSON', async () => {
    const url = `sqlite:${join(dir, 'status.db')}`
    const script =
      "require('node:fs').writeFileSync(process.argv[1], ''); setTimeout(() => {}, 60_000)"
    const marker = join(dir, 'status.marker')
    const holder = startCli(
      ['run', 'report:1', '--url', url, '--', process.execPath, '-e', script, marker],
      dir,
    )
    try {
      await waitUntil(() => existsSync(marker), 20_000, 'the holder to start')
      const json = await runCli(['status', 'report:1', '--url', url, '--json'], dir)
      expect(JSON.parse(json.stdout)).toMatchObject({ key: 'report:1', held: true, fence: '1' })
      const text = await runCli(['status', 'report:1', '--url', url], dir)
      expect(text.stdout).toMatch(
        /^report:1: held, fence 1, lease [\d.]+s left, owner [0-9a-f]{32}\n$/,
      )
      const ls = await runCli(['ls', 'report:', '--url', url, '--json'], dir)
      expect(JSON.parse(ls.stdout)).toEqual([
        expect.objectContaining({ key: 'report:1', held: true }),
      ])
      const none = await runCli(['ls', 'other:', '--url', url], dir)
      expect(none.stdout).toBe('no locks held\n')
    } finally {
      holder.child.kill('SIGTERM')
    }
    await holder.done
    const free = await runCli(['status', 'report:1', '--url', url, '--json'], dir)
    expect(JSON.parse(free.stdout)).toEqual({ key: 'report:1', held: false })
  })
})
