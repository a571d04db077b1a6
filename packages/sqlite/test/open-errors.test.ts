import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { isLockError, LockBackendError } from '@baton-lock/core'
import { SqliteDriver } from '@baton-lock/sqlite'
import { ensureBuilt } from '@baton-lock/test-matrix'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TEST_BINDINGS } from './bindings.js'
import { OPEN_SCRIPT, openOutcome, removeRunnableCopies, runNode } from './run-node.js'

// A file the driver cannot use is a LockBackendError that names the file and the reason,
// on every binding; and no path may hang the (synchronous) open.
const dir = mkdtempSync(join(tmpdir(), 'baton-sqlite-open-'))
chmodSync(dir, 0o755) // the read-only check runs a child as another user
beforeAll(() => ensureBuilt(['packages/core', 'packages/sqlite']), 180_000)
afterAll(() => {
  rmSync(dir, { recursive: true, force: true })
  removeRunnableCopies()
})

/** The error `new SqliteDriver` throws for `path`, checked to be a LockBackendError naming it. */
function openFailure(path: string, binding: (typeof TEST_BINDINGS)[number]): LockBackendError {
  let thrown: unknown
  try {
    new SqliteDriver({ path, binding })
  } catch (err) {
    thrown = err
  }
  expect(isLockError(thrown, 'LOCK_BACKEND'), String(thrown)).toBe(true)
  expect(thrown).toBeInstanceOf(LockBackendError)
  const err = thrown as LockBackendError
  expect(err.message).toContain(`cannot open SQLite database ${path}: `)
  expect(err.cause).toBeInstanceOf(Error)
  return err
}

describe.each(TEST_BINDINGS)('opening a file that cannot serve (%s)', (binding) => {
  const base = join(dir, binding)
  mkdirSync(base, { recursive: true })

  it('a parent that is a file: ENOTDIR, naming the parent', () => {
    const file = join(base, 'plain-file')
    writeFileSync(file, 'not a directory')
    const err = openFailure(join(file, 'sub', 'locks.db'), binding)
    expect(err.message).toMatch(new RegExp(`${file} is not a directory \\(ENOTDIR\\)$`))
    // Directly under the file, too (there SQLite, not mkdir, would meet it).
    expect(openFailure(join(file, 'locks.db'), binding).message).toMatch(/\(ENOTDIR\)$/)
  })

  it('a path that is a directory: EISDIR', () => {
    const path = join(base, 'a-directory.db')
    mkdirSync(path)
    expect(openFailure(path, binding).message).toMatch(/the path is a directory \(EISDIR\)$/)
  })

  it('a file that is not a database: SQLITE_NOTADB, and the file is left as it was', () => {
    const path = join(base, 'notes.txt')
    const text = 'These are my notes, not a database. '.repeat(40)
    writeFileSync(path, text)
    expect(openFailure(path, binding).message).toMatch(/not a SQLite database \(SQLITE_NOTADB\)$/)
  })

  it('a directory this user may not write: a child process as "nobody" gets a LockBackendError', async () => {
    // Root may write into any directory, so a read-only directory only refuses a user
    // without that privilege: when the tests run as root, the child runs as nobody.
    const readOnly = join(base, 'read-only')
    mkdirSync(readOnly)
    chmodSync(readOnly, 0o555)
    const asUser = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {}
    for (const path of [join(readOnly, 'locks.db'), join(readOnly, 'sub', 'locks.db')]) {
      const outcome = openOutcome(
        await runNode(OPEN_SCRIPT, [path, binding], { timeoutMs: 30_000, ...asUser }),
      )
      expect(outcome, path).toMatchObject({ ok: false, code: 'LOCK_BACKEND' })
      expect(outcome.message).toContain(`cannot open SQLite database ${path}: `)
      expect(outcome.message).toMatch(/not writable|permission denied \(EACCES\)/)
    }
  }, 60_000)

  it('a path under /proc returns an error instead of spinning for ever (Node 20 mkdir -p loops there)', async () => {
    // In a child with a timeout: before the fix the open never returned, at 100% CPU.
    const path = '/proc/nope/x.db'
    const result = await runNode(OPEN_SCRIPT, [path, binding], { timeoutMs: 20_000 })
    expect(result.timedOut, 'open of /proc/nope/x.db still running after 20 s').toBe(false)
    const outcome = openOutcome(result)
    expect(outcome).toMatchObject({ ok: false, code: 'LOCK_BACKEND' })
    expect(outcome.message).toContain(`cannot open SQLite database ${path}: `)
    expect(outcome.message).toMatch(/\/proc\/nope/)
  }, 40_000)
})
