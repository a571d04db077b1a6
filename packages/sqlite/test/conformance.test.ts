import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runConformance } from '@baton-lock/core/conformance'
import { SqliteDriver } from '@baton-lock/sqlite'
import Database from 'better-sqlite3'
import { afterAll } from 'vitest'

// Every driver is a new connection to ONE shared file, as separate processes would be.
const dir = mkdtempSync(join(tmpdir(), 'baton-sqlite-kit-'))
const path = join(dir, 'locks.db')
afterAll(() => rmSync(dir, { recursive: true, force: true }))

// One raw connection and statement for the whole file, reachable until the worker exits:
// better-sqlite3 < 13 objects collected by an idle GC abort Node 24 (see src/pin-native.ts).
let deleteLease: ((key: string, owner: string) => void) | undefined
function rawDeleteLease(key: string, owner: string): void {
  if (deleteLease === undefined) {
    const nativeBinding = process.env.BATON_SQLITE_NATIVE_BINDING || undefined
    const db = new Database(path, { timeout: 5_000, nativeBinding })
    const statement = db.prepare('DELETE FROM baton_leases WHERE key = ? AND owner = ?')
    deleteLease = (k, o) => void statement.run(k, o)
  }
  deleteLease(key, owner)
}

runConformance({
  name: 'sqlite',
  createDriver: () => new SqliteDriver({ path }),
  faults: {
    // What an operator's `baton release --force` or a stray DELETE does: the row vanishes.
    dropLock: async ({ key, owner }) => rawDeleteLease(key, owner),
  },
})
