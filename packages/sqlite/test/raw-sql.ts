import { createRequire } from 'node:module'
import type { SqliteBinding } from '@baton-lock/sqlite'
import Database from 'better-sqlite3'

/** A statement on a raw connection, outside the driver. */
export interface RawStatement {
  run(...params: string[]): unknown
  get(...params: string[]): unknown
}

interface RawDatabase {
  prepare(sql: string): RawStatement
}
type NodeSqlite = { DatabaseSync: new (path: string) => RawDatabase & { exec(sql: string): void } }

// Reachable until the worker exits: better-sqlite3 < 13 objects collected by an idle GC
// abort Node 24 (see src/pin-native.ts).
const keepAlive: object[] = []

/**
 * `sql` prepared on a new raw connection to `path` through `binding`, the one the driver
 * under test uses: two copies of SQLite in one process must never share a file (their
 * POSIX locks do not see each other; see the README), so a test never mixes them in-process.
 */
export function rawStatement(path: string, binding: SqliteBinding, sql: string): RawStatement {
  let db: RawDatabase
  if (binding === 'node') {
    const { DatabaseSync } = createRequire(import.meta.url)('node:sqlite') as NodeSqlite
    const nodeDb = new DatabaseSync(path)
    nodeDb.exec('PRAGMA busy_timeout = 5000')
    db = nodeDb
  } else {
    const nativeBinding = process.env.BATON_SQLITE_NATIVE_BINDING || undefined
    db = new Database(path, { timeout: 5_000, nativeBinding }) as unknown as RawDatabase
  }
  const statement = db.prepare(sql)
  keepAlive.push(db, statement)
  return statement
}
