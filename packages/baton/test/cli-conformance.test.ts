import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildCli, runCli, tempDir } from './cli-harness.js'

const dir = tempDir()

beforeAll(() => buildCli(), 180_000)
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('baton conformance', () => {
  it('runs the whole kit against a sqlite file: one line per check, none failed', async () => {
    const url = `sqlite:${join(dir, 'kit.db')}`
    const r = await runCli(['conformance', '--url', url], dir, {}, 170_000)
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0)
    expect(r.stdout).toContain(`conformance kit against ${url}`)
    expect(r.stdout).toMatch(/^ {2}ok {4}exclusion: /m)
    // SQLite pushes wake-ups (nativeWait), so L4 runs; a check the URL cannot support is skipped with its reason
    expect(r.stdout).toMatch(/^ {2}ok {4}waiting: L4: /m)
    expect(r.stdout).toMatch(/^ {2}skip {2}loss: S6: .*no faults\.dropLock given/m)
    expect(r.stdout).not.toMatch(/^ {2}FAIL/m)
    const summary = /conformance: (\d+) passed, 0 failed, (\d+) skipped\n$/.exec(r.stdout)
    expect(summary, r.stdout).not.toBeNull()
    expect(Number(summary?.[1])).toBeGreaterThan(30)
  }, 180_000)
})
