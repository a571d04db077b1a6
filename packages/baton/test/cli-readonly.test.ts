import { mkdirSync, readdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildCli, runCli, tempDir } from './cli-harness.js'

// Read-only commands never create a database or a file: where nothing has locked, they say
// so (exit 2) instead of creating `.baton/locks.db` and answering "no locks held".
const root = tempDir()

beforeAll(() => buildCli(), 180_000)
afterAll(() => rmSync(root, { recursive: true, force: true }))

const READ_ONLY: ReadonlyArray<readonly string[]> = [
  ['ls'],
  ['ls', '--json'],
  ['status', 'k'],
  ['status', 'k', '--json'],
  ['release', '--force', '--yes', 'k'],
]

describe('read-only baton commands on a sqlite path that does not exist', () => {
  it('in an empty directory, on the default URL: exit 2, the path named, nothing created', async () => {
    const empty = join(root, 'empty')
    mkdirSync(empty)
    for (const args of READ_ONLY) {
      const r = await runCli(args, empty)
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2)
      expect(r.stdout).toBe('')
      expect(r.stderr).toBe(
        `baton: no lock database at ${join(empty, '.baton/locks.db')} (sqlite:.baton/locks.db): nothing has locked there yet; check --url or $BATON_URL\n`,
      )
      expect(readdirSync(empty), args.join(' ')).toEqual([])
    }
  })

  it('with --url or BATON_URL naming a missing file: the same, and no parent directory made', async () => {
    const missing = join(root, 'nowhere', 'deeper', 'locks.db')
    for (const args of READ_ONLY) {
      const viaFlag = await runCli([...args, '--url', `sqlite:${missing}`], root)
      expect(viaFlag.code, viaFlag.stderr).toBe(2)
      expect(viaFlag.stderr).toContain(`no lock database at ${missing}`)
      const viaEnv = await runCli(args, root, { BATON_URL: `sqlite://${missing}` })
      expect(viaEnv.code, viaEnv.stderr).toBe(2)
      expect(viaEnv.stderr).toContain(`no lock database at ${missing}`)
    }
    expect(readdirSync(root)).not.toContain('nowhere')
  })

  it('once something has locked there, the same commands answer (and status says free: 1)', async () => {
    const used = join(root, 'used')
    mkdirSync(used)
    const run = await runCli(['run', 'k', '--', process.execPath, '-e', ''], used)
    expect(run.code, run.stderr).toBe(0)
    const ls = await runCli(['ls'], used)
    expect(ls.code, ls.stderr).toBe(0)
    expect(ls.stdout).toBe('no locks held\n')
    const status = await runCli(['status', 'k'], used)
    expect(status.code, status.stderr).toBe(1)
    expect(status.stdout).toBe('k: free\n')
  })
})
