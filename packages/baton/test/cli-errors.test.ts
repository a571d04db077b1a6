import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildCli, runCli, tempDir } from './cli-harness.js'

const dir = tempDir()
const sqlite = `sqlite:${join(dir, 'locks.db')}`
const PASSWORD = 'hunter2-Sekr1t'

beforeAll(() => buildCli(), 180_000)
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** Exit code 2, exactly one line on stderr naming the problem, nothing on stdout, no stack. */
async function expectUsageError(args: string[], pattern: RegExp): Promise<void> {
  const r = await runCli(args, dir)
  expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2)
  expect(r.stdout).toBe('')
  expect(r.stderr.split('\n')).toHaveLength(2) // one line and its newline
  expect(r.stderr).toMatch(/^baton: /)
  expect(r.stderr).toMatch(pattern)
  expect(r.stderr).not.toMatch(/\n\s+at /)
}

describe('baton usage errors', () => {
  it('rejects unknown flags and commands with exit code 2', async () => {
    await expectUsageError(
      ['run', 'k', '--url', sqlite, '--wiat', '1s', '--', 'true'],
      /unknown option --wiat/,
    )
    await expectUsageError(['status', 'k', '--url', sqlite, '--jsn'], /unknown option --jsn/)
    await expectUsageError(
      ['demo', '--url', sqlite, '--workers', 'many'],
      /invalid --workers: "many"/,
    )
    await expectUsageError(['frobnicate'], /unknown command "frobnicate"/)
    await expectUsageError(['run', 'k', '--url', sqlite], /missing command/)
    await expectUsageError(['run', '--url', sqlite, '--', 'true'], /missing argument/)
    await expectUsageError(['run', 'k', '--url'], /option --url needs a value/)
    await expectUsageError(['release', 'k', '--url', sqlite, '--force'], /without --yes/)
  })

  it('rejects malformed durations with exit code 2', async () => {
    for (const bad of ['10x', '-5s', 'soon', '1.5.2s', '']) {
      await expectUsageError(
        ['run', 'k', '--url', sqlite, `--wait=${bad}`, '--', 'true'],
        /invalid duration for --wait/,
      )
    }
    await expectUsageError(
      ['run', 'k', '--url', sqlite, '--ttl', '2 minutes', '--', 'true'],
      /invalid duration for --ttl/,
    )
  })

  it('gives a negative value after a space to the duration parser, not "needs a value"', async () => {
    for (const [flag, value] of [
      ['--ttl', '-5s'],
      ['--wait', '-1'],
      ['--grace', '-0.5s'],
    ] as const) {
      await expectUsageError(
        ['run', 'k', '--url', sqlite, flag, value, '--', 'true'],
        new RegExp(`invalid duration for ${flag}: "${value}" \\(a duration cannot be negative`),
      )
    }
    await expectUsageError(
      ['lock', 'k', '--url', sqlite, '--wait', '-1'],
      /invalid duration for --wait: "-1"/,
    )
    await expectUsageError(
      ['run', 'k', '--url', '--wait', '1s', '--', 'true'],
      /option --url needs a value/,
    )
  })

  it("names the flag and its limit in the flag's units for a duration out of range", async () => {
    await expectUsageError(
      ['run', 'k', '--url', sqlite, '--ttl', '99999h', '--', 'true'],
      /^baton: --ttl must be at most 24h, got "99999h"\n$/,
    )
    await expectUsageError(
      ['lock', 'k', '--url', sqlite, '--ttl', '25h'],
      /--ttl must be at most 24h/,
    )
    await expectUsageError(
      ['run', 'k', '--url', sqlite, '--ttl', '5ms', '--', 'true'],
      /--ttl must be at least 10ms, got "5ms"/,
    )
    await expectUsageError(
      ['run', 'k', '--url', sqlite, '--wait', '999h', '--', 'true'],
      /--wait must be at most 24h \(or "forever"\), got "999h"/,
    )
    await expectUsageError(
      ['run', 'k', '--url', sqlite, '--grace', '100h', '--', 'true'],
      /--grace must be at most 24h/,
    )
    await expectUsageError(
      ['run', 'k', '--url', sqlite, '--conflict-exit-code', '256', '--', 'true'],
      /invalid --conflict-exit-code: "256" \(an exit code from 0 to 255\)/,
    )
  })

  it('rejects bad URLs with exit code 2', async () => {
    await expectUsageError(
      ['status', 'k', '--url', 'bogus://x'],
      /unsupported lock URL \(scheme "bogus:"\)/,
    )
    await expectUsageError(
      ['status', 'k', '--url', 'just-a-word'],
      /unsupported lock URL \(no scheme\)/,
    )
    await expectUsageError(['status', 'k', '--url', 'redis://'], /invalid redis URL/)
    await expectUsageError(['status', 'k', '--url', 'memory:/x'], /memory URL takes no path/)
    await expectUsageError(['demo', '--url', 'memory:'], /memory: locks live in one process/)
    await expectUsageError(['conformance'], /needs --url URL/)
    await expectUsageError(['conformance', '--url', 'memory:'], /memory: is in-process/)
  })

  it('takes the URL from BATON_URL', async () => {
    const r = await runCli(['status', 'k'], dir, { BATON_URL: 'bogus://from-env' })
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/scheme "bogus:"/)
  })

  it('never prints a password from a URL', async () => {
    const urls = [
      `redis://user:${PASSWORD}@`, // unparsable: no host
      `postgres://user:${PASSWORD}@127.0.0.1:1/db?sslmode=disable`, // nothing listens on port 1
      `redis://:${PASSWORD}@127.0.0.1:1`,
      `mysql://root:${PASSWORD}@127.0.0.1:1/db`,
      `zk://user:${PASSWORD}@127.0.0.1:1`,
      `postgres://user:${encodeURIComponent(`${PASSWORD}@/#`)}@127.0.0.1:1/db`,
      `postgres://user@127.0.0.1:1/db?password=${PASSWORD}`,
    ]
    for (const url of urls) {
      const r = await runCli(['status', 'k', '--url', url], dir, {}, 30_000)
      expect(r.code, `${url}: ${r.stderr}`).not.toBe(0)
      expect(`${r.stdout}${r.stderr}`, url).not.toContain(PASSWORD.slice(0, 7))
      expect(r.stderr).not.toMatch(/\n\s+at /)
    }
    // Even with BATON_DEBUG=1 (stack traces on), the password stays out.
    const debug = await runCli(
      ['status', 'k', '--url', urls[1] as string],
      dir,
      { BATON_DEBUG: '1' },
      30_000,
    )
    expect(`${debug.stdout}${debug.stderr}`).not.toContain(PASSWORD.slice(0, 7))
  })

  it('prints help for every command, with exit code 0', async () => {
    for (const command of ['run', 'status', 'ls', 'release', 'demo', 'conformance']) {
      const r = await runCli([command, '--help'], dir)
      expect(r.code, command).toBe(0)
      expect(r.stdout).toMatch(new RegExp(`^Usage: baton ${command}`))
    }
    const top = await runCli(['--help'], dir)
    expect(top.code).toBe(0)
    expect(top.stdout).toMatch(/Exit codes:/)
  })
})
