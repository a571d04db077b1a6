import { pinNative } from './pin-native.js'

/** Which library talks to SQLite: Node's built-in `node:sqlite`, or the better-sqlite3 addon. */
export type SqliteBinding = 'node' | 'better-sqlite3'

/** A value a statement binds: text, a float or integer, a 64-bit integer, or NULL. */
export type SqlValue = string | number | bigint | null

/** A prepared statement, reusable; positional `?` parameters only. */
export interface SqlStatement {
  /** Executes it; the number of rows inserted, updated or deleted. */
  run(...params: SqlValue[]): number
  /** The first result row, or undefined when there is none. */
  get(...params: SqlValue[]): Record<string, unknown> | undefined
  /** Every result row. */
  all(...params: SqlValue[]): Record<string, unknown>[]
}

/**
 * One open connection, whichever binding made it: the few calls the lease store needs,
 * with the same meaning on both, so the lease protocol cannot differ between them.
 */
export interface SqliteConnection {
  /** The binding behind this connection. */
  readonly binding: SqliteBinding
  /** Compiles `sql` once; `bigInts` makes INTEGER columns read as bigint (fences). */
  prepare(sql: string, options?: { readonly bigInts?: boolean }): SqlStatement
  /** Runs one or more statements that return no rows. */
  exec(sql: string): void
  /** `fn` wrapped in `BEGIN IMMEDIATE` ... `COMMIT` (`ROLLBACK` when it throws). */
  immediate<A extends unknown[], R>(fn: (...args: A) => R): (...args: A) => R
  /** Closes the connection; its statements are unusable afterwards. */
  close(): void
}

/** The part of a better-sqlite3 `Database` we call (no type dependency on the addon). */
export interface BetterSqliteDatabase {
  prepare(sql: string): BetterSqliteStatement
  exec(sql: string): unknown
  close(): unknown
}
interface BetterSqliteStatement {
  safeIntegers(on: boolean): unknown
  run(...params: SqlValue[]): { changes: number | bigint }
  get(...params: SqlValue[]): unknown
  all(...params: SqlValue[]): unknown[]
}

/** The part of a `node:sqlite` `DatabaseSync` we call. */
export interface NodeSqliteDatabase {
  prepare(sql: string): NodeSqliteStatement
  exec(sql: string): void
  close(): void
}
interface NodeSqliteStatement {
  setReadBigInts(on: boolean): void
  run(...params: SqlValue[]): { changes: number | bigint }
  get(...params: SqlValue[]): unknown
  all(...params: SqlValue[]): unknown[]
}

/** Wraps a better-sqlite3 database; every native object it makes is pinned (see pin-native.ts). */
export function betterSqliteConnection(db: BetterSqliteDatabase): SqliteConnection {
  pinNative(db)
  return withTransactions('better-sqlite3', db, (sql, bigInts) => {
    const statement = pinNative(db.prepare(sql))
    if (bigInts) statement.safeIntegers(true)
    return {
      run: (...params) => Number(statement.run(...params).changes),
      get: (...params) => statement.get(...params) as Record<string, unknown> | undefined,
      all: (...params) => statement.all(...params) as Record<string, unknown>[],
    }
  })
}

/** Wraps a `node:sqlite` database (its objects are not ObjectWraps: nothing to pin). */
export function nodeSqliteConnection(db: NodeSqliteDatabase): SqliteConnection {
  return withTransactions('node', db, (sql, bigInts) => {
    const statement = db.prepare(sql)
    if (bigInts) statement.setReadBigInts(true)
    return {
      run: (...params) => Number(statement.run(...params).changes),
      get: (...params) => statement.get(...params) as Record<string, unknown> | undefined,
      all: (...params) => statement.all(...params) as Record<string, unknown>[],
    }
  })
}

/**
 * The connection both adapters share: transactions are the same three prepared
 * statements on either binding (better-sqlite3's `transaction()` helper is not used), so
 * lock acquisition, commit and rollback happen exactly alike.
 */
function withTransactions(
  binding: SqliteBinding,
  db: { exec(sql: string): unknown; close(): unknown },
  prepare: (sql: string, bigInts: boolean) => SqlStatement,
): SqliteConnection {
  let begin: SqlStatement | undefined
  let commit: SqlStatement | undefined
  let rollback: SqlStatement | undefined
  return {
    binding,
    prepare: (sql, options) => prepare(sql, options?.bigInts === true),
    exec: (sql) => void db.exec(sql),
    close: () => void db.close(),
    immediate<A extends unknown[], R>(fn: (...args: A) => R): (...args: A) => R {
      return (...args: A): R => {
        begin ??= prepare('BEGIN IMMEDIATE', false)
        commit ??= prepare('COMMIT', false)
        rollback ??= prepare('ROLLBACK', false)
        begin.run()
        try {
          const result = fn(...args)
          commit.run()
          return result
        } catch (err) {
          // SQLite may already have rolled back (e.g. after SQLITE_FULL): a failing
          // ROLLBACK then only says so, and the error that matters is `err`.
          try {
            rollback.run()
          } catch {}
          throw err
        }
      }
    },
  }
}

/** Primary result code names of the SQLite errors the driver tells apart. */
const SQLITE_CODES: Readonly<Record<number, string>> = {
  3: 'SQLITE_PERM',
  5: 'SQLITE_BUSY',
  6: 'SQLITE_LOCKED',
  8: 'SQLITE_READONLY',
  10: 'SQLITE_IOERR',
  11: 'SQLITE_CORRUPT',
  13: 'SQLITE_FULL',
  14: 'SQLITE_CANTOPEN',
  23: 'SQLITE_AUTH',
  26: 'SQLITE_NOTADB',
}

/**
 * The primary SQLite result code of an error from either binding (`SQLITE_BUSY`, ...), or
 * undefined for other errors. better-sqlite3 puts the (extended) name in `code`;
 * `node:sqlite` puts `ERR_SQLITE_ERROR` there and the extended number in `errcode`.
 */
export function sqliteCode(err: unknown): string | undefined {
  const { code, errcode } = (err ?? {}) as { code?: unknown; errcode?: unknown }
  if (typeof errcode === 'number') return SQLITE_CODES[errcode & 0xff] ?? `SQLITE_${errcode}`
  if (typeof code !== 'string' || !code.startsWith('SQLITE_')) return undefined
  const extended = code.indexOf('_', 'SQLITE_'.length)
  return extended === -1 ? code : code.slice(0, extended)
}
