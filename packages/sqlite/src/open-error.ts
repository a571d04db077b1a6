import { accessSync, constants, statSync } from 'node:fs'
import { dirname } from 'node:path'
import { isLockError, LockBackendError } from '@baton-lock/core'
import { sqliteCode } from './sqlite-connection.js'

/**
 * Maps a failure to open the database file (from `fs` or either SQLite binding) to a
 * `LockBackendError` whose message names the file and the reason in words, with the raw
 * error as `cause`; lock errors pass through unchanged.
 */
export function openError(file: string, err: unknown): Error {
  if (isLockError(err)) return err
  return new LockBackendError(
    'sqlite',
    `cannot open SQLite database ${file}: ${reason(file, err)}`,
    {
      cause: err,
    },
  )
}

const FS_REASONS: Readonly<Record<string, string>> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOENT: 'the file system refuses it',
  ENOSPC: 'no space left on the device',
}

function reason(file: string, err: unknown): string {
  const { code, path, syscall } = (err ?? {}) as NodeJS.ErrnoException
  if (syscall === 'mkdir' && path !== undefined && code !== 'ENOTDIR') {
    return `cannot create directory ${path}: ${FS_REASONS[code ?? ''] ?? 'failed'} (${code})`
  }
  switch (code) {
    case 'ENOTDIR':
      return `${notADirectory(file) ?? path ?? 'a parent'} is not a directory (ENOTDIR)`
    case 'EISDIR':
      return 'the path is a directory (EISDIR)'
    case 'EACCES':
    case 'EPERM':
      return `permission denied on ${path ?? dirname(file)} (${code})`
    case 'EROFS':
      return `read-only file system (EROFS)`
  }
  const sqlite = sqliteCode(err)
  switch (sqlite) {
    case 'SQLITE_NOTADB':
      return 'the file is not a SQLite database (SQLITE_NOTADB)'
    case 'SQLITE_CORRUPT':
      return 'the database file is corrupt (SQLITE_CORRUPT)'
    case 'SQLITE_CANTOPEN':
    case 'SQLITE_READONLY':
    case 'SQLITE_PERM':
      return `${whyNotWritable(file) ?? message(err)} (${sqlite})`
    case 'SQLITE_BUSY':
      return `another process kept it locked past the busy timeout (${sqlite})`
  }
  const suffix = sqlite ?? code
  return suffix === undefined ? message(err) : `${message(err)} (${suffix})`
}

/**
 * Why SQLite could not open `file` for writing, as far as the file system tells: the
 * file, or its directory (where the WAL and shared-memory files go), is not writable.
 */
function whyNotWritable(file: string): string | undefined {
  const dir = dirname(file)
  const exists = statSync(file, { throwIfNoEntry: false }) !== undefined
  if (exists && !canAccess(file, constants.R_OK | constants.W_OK)) {
    return 'the file is not readable and writable by this user'
  }
  if (!canAccess(dir, constants.W_OK | constants.X_OK)) {
    return exists
      ? `directory ${dir} is not writable (SQLite creates its -wal and -shm files there)`
      : `directory ${dir} is not writable`
  }
  return undefined
}

/** The nearest existing ancestor of `file` that is not a directory, if any. */
function notADirectory(file: string): string | undefined {
  for (let dir = dirname(file); dirname(dir) !== dir; dir = dirname(dir)) {
    try {
      const stat = statSync(dir, { throwIfNoEntry: false })
      if (stat !== undefined) return stat.isDirectory() ? undefined : dir
    } catch {
      // ENOTDIR further up: keep climbing.
    }
  }
  return undefined
}

function canAccess(path: string, mode: number): boolean {
  try {
    accessSync(path, mode)
    return true
  } catch {
    return false
  }
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
