import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import type { Database as SqliteDatabase } from 'better-sqlite3'
import Database from 'better-sqlite3'
import { pinNative } from './pin-native.js'

/** How `openDatabase` opens the file. */
export interface OpenDatabaseOptions {
  /** How long a statement waits for another process's write lock, in ms (`busy_timeout`). */
  readonly busyTimeoutMs: number
  /** Path of a `better_sqlite3.node` built for this Node ABI; undefined uses the installed one. */
  readonly nativeBinding: string | undefined
  /** `synchronous` pragma: `normal` (default, durable across process crashes) or `full` (also across power loss). */
  readonly synchronous: 'normal' | 'full'
}

/**
 * Opens (creating the file and its parent directories) a database for locks shared by
 * every process on the host: WAL journal, so readers never block the writer and a
 * waiter's cheap pre-check costs no lock; and a busy timeout, so a transaction waits for
 * another process's microsecond-long write instead of failing with SQLITE_BUSY.
 */
export function openDatabase(file: string, options: OpenDatabaseOptions): SqliteDatabase {
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true })
  const db = pinNative(
    new Database(file, {
      timeout: options.busyTimeoutMs,
      ...(options.nativeBinding === undefined ? {} : { nativeBinding: options.nativeBinding }),
    }),
  )
  try {
    setWal(db, options.busyTimeoutMs)
    // exec, not pragma(): pragma() prepares a throwaway Statement (see pin-native.ts).
    db.exec(`PRAGMA synchronous = ${options.synchronous === 'full' ? 'FULL' : 'NORMAL'}`)
    return db
  } catch (err) {
    db.close()
    throw err
  }
}

/**
 * Switching to WAL needs a moment of exclusive access, and SQLite does not run the busy
 * handler for it, so several processes opening a new file at once may see SQLITE_BUSY:
 * retry within the busy timeout. WAL is persistent, so later opens find it already set.
 */
function setWal(db: SqliteDatabase, busyTimeoutMs: number): void {
  const deadlineMs = performance.now() + busyTimeoutMs
  const journalMode = pinNative(db.prepare('PRAGMA journal_mode').pluck())
  for (;;) {
    try {
      const mode = journalMode.get()
      if (mode === 'wal' || db.memory) return
      db.exec('PRAGMA journal_mode = WAL')
      return
    } catch (err) {
      if (!isBusy(err) || performance.now() > deadlineMs) throw err
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5)
    }
  }
}

function isBusy(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string' && code.startsWith('SQLITE_BUSY')
}
