import type { SqliteBinding } from './sqlite-connection.js'

/** Options of a `SqliteDriver`, frozen at construction. */
export interface SqliteDriverOptions {
  /** Database file, relative to the working directory; parent directories are created. */
  readonly path: string
  /** How long one statement waits for another process's write lock, in ms. Default 5 000. */
  readonly busyTimeoutMs?: number
  /**
   * Longest pause between two polls of a held key, in ms: the backstop behind the push
   * wake-up a release sends to the head of the queue. Default 20.
   */
  readonly pollMaxMs?: number
  /** Shortest pause between two polls, in ms (the backoff starts here and doubles). Default 1. */
  readonly pollMinMs?: number
  /**
   * How long a waiter's place in the queue outlives its last renewal, in ms (a waiter
   * renews it every third of this while it waits). A waiter that dies holds the queue up
   * for at most this long. At least 30. Default 2 000.
   */
  readonly waiterTtlMs?: number
  /** `synchronous` pragma; `full` keeps fences across power loss too, at an fsync per write. Default `normal`. */
  readonly synchronous?: 'normal' | 'full'
  /** A `better_sqlite3.node` for another Node ABI. Default: env `BATON_SQLITE_NATIVE_BINDING`, else the installed one. */
  readonly nativeBinding?: string
  /** `node` (built-in `node:sqlite`) or `better-sqlite3`. Default: env `BATON_SQLITE_BINDING`, else `node` where this Node has it. */
  readonly binding?: SqliteBinding
}

/** The file a `sqlite:` URL names when it names none. */
export const DEFAULT_SQLITE_PATH = '.baton/locks.db'

/**
 * The database path of a `sqlite:` URL: `sqlite:PATH` (relative to the working
 * directory), `sqlite:/abs/path` or `sqlite:///abs/path`; `sqlite:` alone is
 * `.baton/locks.db`. Throws a TypeError for another scheme or a NUL in the path.
 */
export function sqlitePathOf(url: string): string {
  if (!/^sqlite:/i.test(url)) throw new TypeError('SqliteDriver URL must start with sqlite:')
  let path = url.slice('sqlite:'.length)
  if (path.startsWith('//')) path = path.slice(2)
  if (path === '') path = DEFAULT_SQLITE_PATH
  if (path.includes('\u0000')) throw new TypeError('sqlite URL path contains a NUL character')
  return path
}
