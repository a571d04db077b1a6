import { readFileSync, rmSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildCli, runCli, tempDir } from './cli-harness.js'

const dir = tempDir()
const COMMANDS = ['run', 'lock', 'elect', 'status', 'ls', 'release', 'demo', 'conformance']

beforeAll(() => buildCli(), 180_000)
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('baton help', () => {
  it('baton help CMD prints exactly what baton CMD --help prints, on stdout, exit 0', async () => {
    for (const command of COMMANDS) {
      const viaHelp = await runCli(['help', command], dir)
      const viaFlag = await runCli([command, '--help'], dir)
      expect(viaHelp.code, command).toBe(0)
      expect(viaHelp.stderr).toBe('')
      expect(viaHelp.stdout).toMatch(new RegExp(`^Usage: baton ${command}`))
      expect(viaHelp.stdout).toBe(viaFlag.stdout)
    }
    const unknown = await runCli(['help', 'frobnicate'], dir)
    expect(unknown.code).toBe(2)
    expect(unknown.stdout).toBe('')
    expect(unknown.stderr).toBe('baton: unknown command "frobnicate" (see baton --help)\n')
  })

  it('with no arguments: the usage on stderr, nothing on stdout, exit 2', async () => {
    const r = await runCli([], dir)
    expect(r.code).toBe(2)
    expect(r.stdout).toBe('')
    expect(r.stderr).toMatch(/^Usage: baton COMMAND/)
    const help = await runCli(['--help'], dir)
    expect(help.code).toBe(0)
    expect(help.stdout).toBe(r.stderr)
    expect((await runCli(['help'], dir)).stdout).toBe(help.stdout)
  })

  it('top-level help lists every command, every URL scheme and every exit code', async () => {
    const { stdout } = await runCli(['--help'], dir)
    for (const command of COMMANDS) expect(stdout).toMatch(new RegExp(`^ {2}${command} `, 'm'))
    for (const scheme of [
      'mysql://',
      'mariadb://',
      'etcd://',
      'zk://',
      'redis://',
      'postgres://',
    ]) {
      expect(stdout).toContain(scheme)
    }
    for (const code of ['0', '1', '2', '3', '4', '5', '6', '7', '8', '126', '127', '128+N']) {
      expect(stdout).toMatch(new RegExp(`^ {2}${code.replace('+', '\\+')} +\\S`, 'm'))
    }
  })

  it('command help says what the command really does', async () => {
    const release = (await runCli(['help', 'release'], dir)).stdout
    expect(release).toMatch(/^Usage: baton release --force --yes NAME/)
    for (const command of ['ls', 'release', 'status']) {
      const text = (await runCli(['help', command], dir)).stdout
      expect(text, command).not.toMatch(/\(sqlite\)|\(sqlite;/)
      expect(text, command).toMatch(/every backend whose\s+driver\s+can/)
    }
    const status = (await runCli(['help', 'status'], dir)).stdout
    expect(status).toMatch(/Exit codes: 0 held, 1 free/)
    const conformance = (await runCli(['help', 'conformance'], dir)).stdout
    expect(conformance).toContain('"baton-conformance-<8 hex>"')
  })

  it("the README's CLI reference is the help text, verbatim", async () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')
    const blocks = [['--help'], ...COMMANDS.map((command) => ['help', command])]
    for (const args of blocks) {
      const { stdout } = await runCli(args, dir)
      const title = `baton ${args.join(' ')}`
      const block = `#### \`${title}\`\n\n\`\`\`text\n${stdout.trimEnd()}\n\`\`\`\n`
      expect(readme, `${title}: run pnpm --filter baton-lock run docs:cli`).toContain(block)
    }
    // and the prose agrees with the facts the issue found wrong
    expect(readme).toContain('`baton-conformance-<8 hex>`')
    expect(readme).not.toContain('kit-<hex>')
    expect(readme).toContain('baton release --force --yes NAME')
  })
})
