import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runConformance } from '@baton-lock/core/conformance'
import { SqliteDriver } from '@baton-lock/sqlite'
import Database from 'better-sqlite3'
import { afterAll } from 'vitest'
import { TEST_BINDINGS } from './bindings.js'

// The whole contract on every binding this Node has (see bindings.ts). Every driver is a
// new connection to ONE shared file per binding, as separate processes would be.
const dir = mkdtempSync(join(tmpdir(), 'baton-sqlite-kit-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

// One raw better-sqlite3 connection and statement per file, reachable until the worker
// exits: better-sqlite3 < 13 objects collected by an idle GC abort Node 24 (see
// src/pin-native.ts). On the node:sqlite variant it is also a second binding on the file.
const deleters = new Map<string, (key: string, owner: string) => void>()
function rawDeleteLease(path: string, key: string, owner: string): void {
  let deleteLease = deleters.get(path)
  if (deleteLease === undefined) {
    const nativeBinding = process.env.BATON_SQLITE_NATIVE_BINDING || undefined
    const db = new Database(path, { timeout: 5_000, nativeBinding })
    const statement = db.prepare('DELETE FROM baton_leases WHERE key = ? AND owner = ?')
    deleteLease = (k, o) => void statement.run(k, o)
    deleters.set(path, deleteLease)
  }
  deleteLease(key, owner)
}

for (const binding of TEST_BINDINGS) {
  const path = join(dir, `locks-${binding}.db`)
  runConformance({
    name: `sqlite (${binding})`,
    createDriver: () => new SqliteDriver({ path, binding }),
    faults: {
      // What an operator's `baton release --force` or a stray DELETE does: the row vanishes.
      dropLock: async ({ key, owner }) => rawDeleteLease(path, key, owner),
    },
  })
}
