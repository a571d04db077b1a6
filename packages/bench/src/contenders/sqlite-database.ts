import { createRequire } from 'node:module'

/** The subset of better-sqlite3 the floor uses. */
export interface SqliteStatement {
  run(...params: unknown[]): { changes: number }
  get(...params: unknown[]): unknown
}
export interface SqliteDatabase {
  prepare(sql: string): SqliteStatement
  pragma(sql: string, options?: { simple: boolean }): unknown
  exec(sql: string): void
  close(): void
}

type DatabaseConstructor = new (
  file: string,
  options?: { timeout?: number; nativeBinding?: string },
) => SqliteDatabase

/*
 * better-sqlite3 is a dependency of @baton-lock/sqlite, not of this package; it is loaded from
 * there so that the floor and the driver use the very same build of SQLite.
 */
const requireFromSqlite = createRequire(new URL('../../../sqlite/package.json', import.meta.url))

/** Opens `file` with the pragmas @baton-lock/sqlite uses: WAL, synchronous NORMAL, 5 s busy timeout. */
export function openSqlite(file: string): SqliteDatabase {
  const Database = requireFromSqlite('better-sqlite3') as DatabaseConstructor
  // The addon the driver's better-sqlite3 fallback loads too (a build for another Node ABI).
  const nativeBinding = process.env.BATON_SQLITE_NATIVE_BINDING || undefined
  const db = new Database(file, { timeout: 5_000, ...(nativeBinding ? { nativeBinding } : {}) })
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = NORMAL')
  return db
}

/** The SQLite library version, for the machine description. */
export function sqliteVersion(): string {
  const db = openSqlite(':memory:')
  try {
    return (db.prepare('SELECT sqlite_version() AS v').get() as { v: string }).v
  } finally {
    db.close()
  }
}
