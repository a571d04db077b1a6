import { realpathSync, statSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { LockUnsupportedError } from '@baton-lock/core'
import { LeaseStore } from './lease-store.js'
import type { BindingChoice, SqliteOpener } from './load-binding.js'
import { loadBinding } from './load-binding.js'
import { makeParents } from './make-parents.js'
import { openError } from './open-error.js'
import type { SqliteBinding, SqliteConnection } from './sqlite-connection.js'
import { sqliteCode } from './sqlite-connection.js'

/** How `openLeaseStore` opens the file. */
export interface OpenDatabaseOptions extends BindingChoice {
  /** How long a statement waits for another process's write lock, in ms (`busy_timeout`). */
  readonly busyTimeoutMs: number
  /** `synchronous` pragma: `normal` (default, durable across process crashes) or `full` (also across power loss). */
  readonly synchronous: 'normal' | 'full'
}

/**
 * Opens the lease store in `file` (creating the file and its parent directories), purged
 * of expired leases. A file that cannot be used (a parent that is a file, a directory, a
 * non-database, no write access) fails with a `LockBackendError` naming the file and the
 * reason; no loadable SQLite binding fails with a `LockUnsupportedError` (see load-binding.ts).
 */
export function openLeaseStore(file: string, options: OpenDatabaseOptions): LeaseStore {
  const opener = loadBinding(options)
  let db: SqliteConnection | undefined
  try {
    db = openDatabase(opener, file, options)
    const store = new LeaseStore(db)
    store.purgeExpired()
    return store
  } catch (err) {
    db?.close()
    throw openError(file, err)
  }
}

/**
 * A connection for locks shared by every process on the host: WAL journal, so readers
 * never block the writer and a waiter's cheap pre-check costs no lock; and a busy
 * timeout, so a transaction waits for another process's microsecond-long write instead
 * of failing with SQLITE_BUSY. Set by pragma on both bindings, so they behave alike.
 */
function openDatabase(
  opener: SqliteOpener,
  file: string,
  options: OpenDatabaseOptions,
): SqliteConnection {
  if (file === ':memory:') return configure(opener.open(file), file, options)
  makeParents(dirname(file))
  if (statSync(file, { throwIfNoEntry: false })?.isDirectory() === true) {
    throw Object.assign(new Error(`EISDIR: illegal operation on a directory, '${file}'`), {
      code: 'EISDIR',
      path: file,
    })
  }
  const release = claimFile(join(realpathSync(dirname(file)), basename(file)), opener.binding)
  let db: SqliteConnection
  try {
    db = configure(opener.open(file), file, options)
  } catch (err) {
    release()
    throw err
  }
  return {
    ...db,
    close() {
      try {
        db.close()
      } finally {
        release()
      }
    },
  }
}

/** Busy timeout, WAL, synchronous; closes `db` when one fails. */
function configure(
  db: SqliteConnection,
  file: string,
  options: OpenDatabaseOptions,
): SqliteConnection {
  try {
    db.exec(`PRAGMA busy_timeout = ${options.busyTimeoutMs}`)
    if (file !== ':memory:') setWal(db, options.busyTimeoutMs)
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
function setWal(db: SqliteConnection, busyTimeoutMs: number): void {
  const deadlineMs = performance.now() + busyTimeoutMs
  const journalMode = db.prepare('PRAGMA journal_mode')
  for (;;) {
    try {
      if (journalMode.get()?.journal_mode === 'wal') return
      db.exec('PRAGMA journal_mode = WAL')
      return
    } catch (err) {
      if (sqliteCode(err) !== 'SQLITE_BUSY' || performance.now() > deadlineMs) throw err
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5)
    }
  }
}

/** Files this process has open, by binding, with how many connections. */
const openFiles = new Map<string, { readonly binding: SqliteBinding; count: number }>()

/**
 * Registers a connection to `file` through `binding`; the returned function unregisters
 * it. Refuses a second binding on a file this process already has open: node:sqlite and
 * better-sqlite3 each embed their own copy of SQLite, and two copies in one process
 * break each other's locks on a shared file (POSIX locks do not conflict within a
 * process, and each copy coordinates only its own connections; closing one copy's
 * descriptor even drops the other's locks). Separate processes may mix bindings freely.
 */
function claimFile(file: string, binding: SqliteBinding): () => void {
  const entry = openFiles.get(file)
  if (entry !== undefined && entry.binding !== binding) {
    throw new LockUnsupportedError(
      'sqlite',
      'two SQLite bindings on one file',
      `${file} is open in this process through ${entry.binding}; opening it through ${binding} ` +
        "too would break both connections' locks (two copies of SQLite in one process): " +
        'use one binding per process (BATON_SQLITE_BINDING or the binding option)',
    )
  }
  if (entry === undefined) openFiles.set(file, { binding, count: 1 })
  else entry.count++
  let released = false
  return () => {
    if (released) return
    released = true
    const current = openFiles.get(file)
    if (current !== undefined && --current.count === 0) openFiles.delete(file)
  }
}
