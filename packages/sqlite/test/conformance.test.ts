import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runConformance } from '@baton-lock/core/conformance'
import type { SqliteBinding } from '@baton-lock/sqlite'
import { SqliteDriver } from '@baton-lock/sqlite'
import { afterAll } from 'vitest'
import { TEST_BINDINGS } from './bindings.js'
import type { RawStatement } from './raw-sql.js'
import { rawStatement } from './raw-sql.js'

// The whole contract on every binding this Node has (see bindings.ts). Every driver is a
// new connection to ONE shared file per binding, as separate processes would be.
const dir = mkdtempSync(join(tmpdir(), 'baton-sqlite-kit-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

// The fault: a raw connection deletes the lease row, as an operator's `baton release
// --force` or a stray DELETE would (through the binding under test: see raw-sql.ts).
function rawDeleter(path: string, binding: SqliteBinding): (key: string, owner: string) => void {
  let statement: RawStatement | undefined
  return (key, owner) => {
    statement ??= rawStatement(
      path,
      binding,
      'DELETE FROM baton_leases WHERE key = ? AND owner = ?',
    )
    statement.run(key, owner)
  }
}

for (const binding of TEST_BINDINGS) {
  const path = join(dir, `locks-${binding}.db`)
  const dropLock = rawDeleter(path, binding)
  runConformance({
    name: `sqlite (${binding})`,
    createDriver: () => new SqliteDriver({ path, binding }),
    faults: { dropLock: async ({ key, owner }) => dropLock(key, owner) },
  })
}
