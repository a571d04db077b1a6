import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { isLockError } from '@baton-lock/core'
import { connect } from 'baton-lock'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { EXIT } from '../src/cli/exit-codes.js'
import { buildCli, runCli, tempDir } from './cli-harness.js'

// A SQLite file that cannot serve, and a SQLite binding that cannot load, are Baton errors
// on the API and one clear line on the CLI; no path hangs the command.
const dir = tempDir('baton-cli-sqlite-')
const plainFile = join(dir, 'plain-file')
const directory = join(dir, 'a-directory.db')
const notADatabase = join(dir, 'notes.txt')
writeFileSync(plainFile, 'not a directory')
mkdirSync(directory)
writeFileSync(notADatabase, 'These are my notes, not a database. '.repeat(40))

/** Each unusable path, with the reason the message must give. */
const BAD_PATHS: ReadonlyArray<readonly [string, RegExp]> = [
  [join(plainFile, 'locks.db'), new RegExp(`${plainFile} is not a directory \\(ENOTDIR\\)`)],
  [directory, /the path is a directory \(EISDIR\)/],
  [notADatabase, /not a SQLite database \(SQLITE_NOTADB\)/],
  ['/proc/nope/x.db', /cannot create directory \/proc\/nope: .*\(ENOENT\)/],
]

beforeAll(() => buildCli(), 180_000)
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** One line on stderr naming the database path, no stack trace, nothing on stdout. */
function expectOneLine(stderr: string, path: string): void {
  expect(stderr.split('\n')).toHaveLength(2)
  expect(stderr).toMatch(/^baton: /)
  expect(stderr).toContain(path)
  expect(stderr).not.toMatch(/\n\s+at /)
}

describe('unusable SQLite files', () => {
  it('connect() rejects with a LockBackendError naming the file and the reason', async () => {
    for (const [path, reason] of BAD_PATHS) {
      const err = await connect(`sqlite:${path}`).then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(isLockError(err, 'LOCK_BACKEND'), `${path}: ${String(err)}`).toBe(true)
      expect((err as Error).message).toContain(`cannot open SQLite database ${path}: `)
      expect((err as Error).message).toMatch(reason)
    }
  })

  it('baton run, status and ls exit non-zero (run: the backend code) with one line naming the file (and never hang)', async () => {
    for (const [path, reason] of BAD_PATHS) {
      const url = `sqlite:${path}`
      // run creates a missing database, so it always reaches the open that fails.
      const run = await runCli(['run', 'k', '--url', url, '--', 'true'], dir, {}, 30_000)
      expect(run.signal, `run on ${path} was killed after 30 s`).toBeNull()
      expect(run.code, `${path}: ${run.stderr}`).toBe(EXIT.BACKEND)
      expectOneLine(run.stderr, path)
      expect(run.stderr).toMatch(reason)
      expect(run.stdout).toBe('')
      for (const command of [['status', 'k'], ['ls']]) {
        const r = await runCli([...command, '--url', url], dir, {}, 30_000)
        expect(r.signal, `${command[0]} on ${path} was killed after 30 s`).toBeNull()
        expect(r.code, `${command[0]} ${path}: ${r.stderr}`).not.toBe(0)
        expectOneLine(r.stderr, path)
      }
    }
  }, 240_000)
})

describe('a SQLite binding that cannot load', () => {
  const env = {
    BATON_SQLITE_BINDING: 'better-sqlite3',
    BATON_SQLITE_NATIVE_BINDING: join(dir, 'no-such-addon.node'),
  }

  it('connect() rejects with a LockUnsupportedError saying what to install', async () => {
    const saved = { ...process.env }
    Object.assign(process.env, env)
    try {
      const err = await connect(`sqlite:${join(dir, 'never.db')}`).then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(isLockError(err, 'LOCK_UNSUPPORTED'), String(err)).toBe(true)
      expect((err as Error).message).toContain('npm install better-sqlite3')
      expect((err as Error).message).toContain('pnpm approve-builds')
    } finally {
      for (const name of Object.keys(env)) {
        if (saved[name] === undefined) delete process.env[name]
        else process.env[name] = saved[name]
      }
    }
  })

  it('every baton command exits 2 with the install line', async () => {
    // An existing (empty) file: read-only commands refuse a missing database before loading.
    const existing = join(dir, 'empty.db')
    writeFileSync(existing, '')
    const url = `sqlite:${existing}`
    for (const command of [['status', 'k'], ['ls'], ['run', 'k', '--', 'true']]) {
      const r = await runCli([...command.slice(0, 2), '--url', url, ...command.slice(2)], dir, env)
      expect(r.code, `${command[0]}: ${r.stderr}`).toBe(2)
      expect(r.stderr).toMatch(/^baton: .*npm install better-sqlite3.*pnpm approve-builds/)
      expect(r.stderr.split('\n')).toHaveLength(2)
    }
  })
})
