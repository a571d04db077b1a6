import { randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AcquireRequest, DriverLease } from '@baton-lock/core'
import { isLockError, LockUnsupportedError } from '@baton-lock/core'
import type { SqliteBinding } from '@baton-lock/sqlite'
import { SqliteDriver } from '@baton-lock/sqlite'
import { ensureBuilt } from '@baton-lock/test-matrix'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { hasNodeSqlite, nodeShipsSqlite, TEST_BINDINGS } from './bindings.js'
import { rawStatement } from './raw-sql.js'
import { BUILT_SQLITE, runNode } from './run-node.js'

// Which binding the driver picks, how BATON_SQLITE_BINDING forces one, what a binding that
// cannot load says, and that both bindings share one file format and one lease protocol.
const dir = mkdtempSync(join(tmpdir(), 'baton-sqlite-binding-'))
const drivers: SqliteDriver[] = []
let fileNo = 0
const AUTO: SqliteBinding = hasNodeSqlite() ? 'node' : 'better-sqlite3'

beforeAll(() => ensureBuilt(['packages/core', 'packages/sqlite']), 180_000)
afterEach(async () => {
  for (const driver of drivers.splice(0)) await driver.close()
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function newPath(): string {
  return join(dir, `locks-${fileNo++}.db`)
}

function open(options: { path?: string; binding?: SqliteBinding; nativeBinding?: string } = {}) {
  const driver = new SqliteDriver({ path: newPath(), ...options })
  drivers.push(driver)
  return driver
}

/** Runs `fn` with these environment variables (undefined deletes one), then restores them. */
function withEnv<T>(vars: Record<string, string | undefined>, fn: () => T): T {
  const saved = Object.fromEntries(Object.keys(vars).map((name) => [name, process.env[name]]))
  const assign = (values: Record<string, string | undefined>) => {
    for (const [name, value] of Object.entries(values)) {
      if (value === undefined) delete process.env[name]
      else process.env[name] = value
    }
  }
  assign(vars)
  try {
    return fn()
  } finally {
    assign(saved)
  }
}

/** What `fn` threw, checked to be a LOCK_UNSUPPORTED LockError (with a cause, unless told). */
function unsupported(fn: () => unknown, withCause = true): LockUnsupportedError {
  let thrown: unknown
  try {
    fn()
  } catch (err) {
    thrown = err
  }
  expect(isLockError(thrown, 'LOCK_UNSUPPORTED'), String(thrown)).toBe(true)
  expect(thrown).toBeInstanceOf(LockUnsupportedError)
  if (withCause) expect((thrown as Error).cause).toBeInstanceOf(Error)
  return thrown as LockUnsupportedError
}

function request(key: string, waitMs = 0): AcquireRequest {
  const owner = randomBytes(16).toString('hex')
  return {
    key,
    owner,
    ttlMs: 10_000,
    waitMs,
    mode: 'exclusive',
    signal: new AbortController().signal,
  }
}

describe('choosing the SQLite binding', () => {
  it('tests node:sqlite exactly where Node ships it (22.13 and later)', () => {
    expect(hasNodeSqlite()).toBe(nodeShipsSqlite())
    expect(TEST_BINDINGS.includes('node')).toBe(nodeShipsSqlite())
    expect(['20.20.2', '22.12.0', '23.3.0'].map((v) => nodeShipsSqlite(v))).toEqual([
      false,
      false,
      false,
    ])
    expect(['22.13.0', '23.4.0', '24.0.0', '26.1.0'].map((v) => nodeShipsSqlite(v))).toEqual([
      true,
      true,
      true,
      true,
    ])
  })

  it('uses node:sqlite where this Node has it, else better-sqlite3; BATON_SQLITE_BINDING forces one', () => {
    withEnv({ BATON_SQLITE_BINDING: undefined }, () => expect(open().binding).toBe(AUTO))
    withEnv({ BATON_SQLITE_BINDING: 'auto' }, () => expect(open().binding).toBe(AUTO))
    withEnv({ BATON_SQLITE_BINDING: 'better-sqlite3' }, () => {
      expect(open().binding).toBe('better-sqlite3')
      // The option wins over the environment.
      if (hasNodeSqlite()) expect(open({ binding: 'node' }).binding).toBe('node')
    })
    withEnv({ BATON_SQLITE_BINDING: 'node' }, () => {
      if (hasNodeSqlite()) {
        expect(open().binding).toBe('node')
      } else {
        const err = unsupported(() => open())
        expect(err.message).toMatch(/BATON_SQLITE_BINDING is "node", but Node v\d+\S* has no/)
        expect(err.message).toMatch(/Node 22\.13/)
      }
      expect(open({ binding: 'better-sqlite3' }).binding).toBe('better-sqlite3')
    })
    withEnv({ BATON_SQLITE_BINDING: 'sqlite3' }, () => {
      expect(() => open()).toThrow(/BATON_SQLITE_BINDING must be "node", "better-sqlite3" or unset/)
    })
    expect(() => open({ binding: 'bun' as SqliteBinding })).toThrow(TypeError)
  })

  it('fails with LockUnsupportedError saying what to install when better-sqlite3 cannot load, and creates nothing', () => {
    const missing = join(dir, 'no-such-binding.node')
    const notAnAddon = join(dir, 'not-an-addon.node')
    writeFileSync(notAnAddon, 'this is text, not a shared object')
    const path = join(dir, 'never-created', 'locks.db')
    for (const nativeBinding of [missing, notAnAddon]) {
      // Through the option...
      const viaOption = unsupported(() => open({ path, binding: 'better-sqlite3', nativeBinding }))
      // ...and through the environment, as the CLI and connect() see it.
      const viaEnv = withEnv(
        { BATON_SQLITE_BINDING: 'better-sqlite3', BATON_SQLITE_NATIVE_BINDING: nativeBinding },
        () => unsupported(() => new SqliteDriver({ path })),
      )
      for (const err of [viaOption, viaEnv]) {
        expect(err.message).toContain(nativeBinding)
        expect(err.message).toContain('npm install better-sqlite3')
        expect(err.message).toContain('pnpm approve-builds')
        expect(err.message).toContain('Node 22.13')
        expect(err.message).not.toContain('\n')
      }
      expect(viaEnv.message).toMatch(/BATON_SQLITE_BINDING is "better-sqlite3", but it could not/)
    }
    expect(existsSync(join(dir, 'never-created'))).toBe(false)
    // Automatic choice: node:sqlite where it exists, else the same error.
    withEnv({ BATON_SQLITE_BINDING: undefined, BATON_SQLITE_NATIVE_BINDING: missing }, () => {
      if (hasNodeSqlite()) {
        expect(open().binding).toBe('node')
      } else {
        const err = unsupported(() => open())
        expect(err.message).toMatch(/^no SQLite binding loads on Node v20/)
        expect(err.message).toContain('npm install better-sqlite3')
      }
    })
  })

  it('runs one lease protocol on every binding, and refuses two bindings on one file in one process', async () => {
    for (const first of TEST_BINDINGS) {
      for (const second of TEST_BINDINGS) {
        const path = newPath()
        const a = open({ path, binding: first })
        if (second !== first) {
          // Two copies of SQLite in one process would break each other's locks on the file.
          const err = unsupported(() => open({ path, binding: second }), false)
          expect(err.message).toContain(`is open in this process through ${first}`)
          await a.close()
          expect(open({ path, binding: second }).binding).toBe(second)
          continue
        }
        const b = open({ path, binding: second })
        const lease = (await a.acquire(request('k'))) as DriverLease
        expect(lease.fence, first).toBe(1n)
        expect(await b.acquire(request('k'))).toBeNull()
        expect(await b.inspect('k')).toMatchObject({ held: true, owner: lease.owner, fence: 1n })
        const waiting = b.acquire(request('k', 10_000))
        expect(await a.release(lease)).toBe(true)
        expect(((await waiting) as DriverLease).fence).toBe(2n)
        // Integers on disk, whatever JavaScript type the binding bound: the file is the same
        // for processes on either binding (multi-process.test.ts mixes them).
        const types = rawStatement(
          path,
          first,
          'SELECT typeof(fence) AS fence, typeof(expires_at) AS expires FROM baton_leases',
        )
        expect({ ...(types.get() as object) }).toEqual({ fence: 'integer', expires: 'integer' })
      }
    }
  })

  it("does not print node:sqlite's ExperimentalWarning, and lets every other warning through", async () => {
    const script = `
      import { SqliteDriver } from ${JSON.stringify(BUILT_SQLITE)}
      const driver = new SqliteDriver({ path: process.argv[1] })
      process.emitWarning('a warning of the application', 'ExperimentalWarning')
      console.log(driver.binding)
      await driver.close()
      await new Promise((resolve) => setTimeout(resolve, 50)) // warnings print on a later tick
    `
    const result = await runNode(script, [newPath()], {
      timeoutMs: 30_000,
      env: { BATON_SQLITE_BINDING: '', NODE_NO_WARNINGS: '' },
    })
    expect(result.code, result.stderr).toBe(0)
    expect(result.stdout.trim()).toBe(AUTO)
    expect(result.stderr).toContain('ExperimentalWarning: a warning of the application')
    expect(result.stderr).not.toContain('SQLite is an experimental feature')
  })
})
