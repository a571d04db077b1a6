import { createRequire } from 'node:module'
import { LockUnsupportedError } from '@baton-lock/core'
import { pinNative } from './pin-native.js'
import type {
  BetterSqliteDatabase,
  NodeSqliteDatabase,
  SqliteBinding,
  SqliteConnection,
} from './sqlite-connection.js'
import { betterSqliteConnection, nodeSqliteConnection } from './sqlite-connection.js'

/** Which binding to use and where better-sqlite3's addon is. */
export interface BindingChoice {
  /** Forced binding; undefined reads `BATON_SQLITE_BINDING`, and unset means automatic. */
  readonly binding: SqliteBinding | undefined
  /** A `better_sqlite3.node` to load instead of the installed one. */
  readonly nativeBinding: string | undefined
}

/** A loaded binding: its name, and how to open a connection (file failures are thrown raw). */
export interface SqliteOpener {
  readonly binding: SqliteBinding
  open(file: string): SqliteConnection
}

const require = createRequire(import.meta.url)
const FIX =
  'npm install better-sqlite3 (with pnpm: pnpm add better-sqlite3, then pnpm approve-builds ' +
  'so that its native build runs), or run on Node 22.13 or later, which has node:sqlite built in'

/**
 * The binding to open databases with: `node:sqlite` when this Node has it (22.13 and
 * later), else better-sqlite3, unless `choice` or `BATON_SQLITE_BINDING` forces one.
 * Throws a `LockUnsupportedError` saying what to install when none can load, and a
 * TypeError for an unknown binding name.
 */
export function loadBinding(choice: BindingChoice): SqliteOpener {
  const { binding, source } = chosenBinding(choice.binding)
  if (binding !== 'better-sqlite3') {
    const sqlite = nodeSqlite()
    if (!(sqlite instanceof Error)) {
      return {
        binding: 'node',
        open: (file) => nodeSqliteConnection(new sqlite.DatabaseSync(file)),
      }
    }
    if (binding === 'node') {
      throw unsupported(
        `${source} is "node", but Node ${process.version} has no node:sqlite (built in from ` +
          'Node 22.13); unset it to use better-sqlite3',
        sqlite,
      )
    }
  }
  let Database: BetterSqliteConstructor
  try {
    Database = betterSqlite(choice.nativeBinding)
  } catch (err) {
    const intro =
      binding === undefined
        ? `no SQLite binding loads on Node ${process.version}: node:sqlite is built in only ` +
          'from Node 22.13, and better-sqlite3'
        : `${source} is "better-sqlite3", but it`
    throw unsupported(`${intro} ${betterSqliteFailure(err, choice.nativeBinding)}; ${FIX}`, err)
  }
  const options = choice.nativeBinding === undefined ? {} : { nativeBinding: choice.nativeBinding }
  return {
    binding: 'better-sqlite3',
    open: (file) => betterSqliteConnection(new Database(file, options)),
  }
}

function chosenBinding(option: string | undefined): {
  binding: SqliteBinding | undefined
  source: string
} {
  const fromEnv = process.env.BATON_SQLITE_BINDING?.trim()
  const source = option === undefined ? 'BATON_SQLITE_BINDING' : 'the binding option'
  const value = option ?? (fromEnv === '' || fromEnv === 'auto' ? undefined : fromEnv)
  if (value === undefined || value === 'node' || value === 'better-sqlite3') {
    return { binding: value, source }
  }
  throw new TypeError(
    `${source} must be "node", "better-sqlite3" or unset (automatic), got ${JSON.stringify(value)}`,
  )
}

interface NodeSqliteModule {
  readonly DatabaseSync: new (path: string) => NodeSqliteDatabase
}
let nodeSqliteModule: NodeSqliteModule | Error | undefined

/**
 * `node:sqlite`, or why not. Node 22 announces it with an ExperimentalWarning when it is
 * first loaded; that one warning, emitted synchronously while this call loads the module,
 * is dropped, so that every `baton` run does not print it. Any other warning passes
 * through, and the handler is restored before this returns.
 */
function nodeSqlite(): NodeSqliteModule | Error {
  if (nodeSqliteModule !== undefined) return nodeSqliteModule
  const emitWarning = process.emitWarning
  process.emitWarning = function filtered(warning: string | Error, ...rest: unknown[]): void {
    const type = typeof rest[0] === 'string' ? rest[0] : (rest[0] as { type?: unknown })?.type
    const text = typeof warning === 'string' ? warning : warning.message
    const ours = type === 'ExperimentalWarning' && text.startsWith('SQLite is an experimental')
    if (!ours) Reflect.apply(emitWarning, process, [warning, ...rest])
  } as typeof process.emitWarning
  try {
    nodeSqliteModule = require('node:sqlite') as NodeSqliteModule
  } catch (err) {
    nodeSqliteModule = err instanceof Error ? err : new Error(String(err))
  } finally {
    process.emitWarning = emitWarning
  }
  return nodeSqliteModule
}

type BetterSqliteConstructor = new (
  file: string,
  options: { nativeBinding?: string },
) => BetterSqliteDatabase
const betterSqliteLoaded = new Map<string, BetterSqliteConstructor>()

/**
 * better-sqlite3, proven to load: its JavaScript loads even when the addon was never
 * built, and the addon loads only when a database opens, so an in-memory database is
 * opened once per process (and addon path) to tell a missing build from a bad file.
 */
function betterSqlite(nativeBinding: string | undefined): BetterSqliteConstructor {
  const loaded = betterSqliteLoaded.get(nativeBinding ?? '')
  if (loaded !== undefined) return loaded
  const Database = require('better-sqlite3') as BetterSqliteConstructor
  const probe = new Database(':memory:', nativeBinding === undefined ? {} : { nativeBinding })
  pinNative(probe).close()
  betterSqliteLoaded.set(nativeBinding ?? '', Database)
  return Database
}

function betterSqliteFailure(err: unknown, nativeBinding: string | undefined): string {
  const { code } = (err ?? {}) as { code?: unknown }
  const full = err instanceof Error ? err.message : String(err)
  const abi = /requires\s+NODE_MODULE_VERSION (\d+)/.exec(full)?.[1]
  const detail =
    abi === undefined
      ? firstLine(err)
      : `built for another Node version (this one needs NODE_MODULE_VERSION ${abi})`
  if (nativeBinding !== undefined) {
    return `could not load the native binding ${nativeBinding} (BATON_SQLITE_NATIVE_BINDING or the nativeBinding option): ${detail}`
  }
  if (code === 'MODULE_NOT_FOUND' && full.includes("'better-sqlite3'")) return 'is not installed'
  if (full.includes('Could not locate the bindings file')) {
    return 'is installed but its native addon was never built (its install script did not run)'
  }
  if (abi !== undefined) return `was ${detail}; rebuild it: npm rebuild better-sqlite3`
  return `failed to load (${detail})`
}

function unsupported(message: string, cause: unknown): LockUnsupportedError {
  const err = new LockUnsupportedError('sqlite', 'a SQLite binding', message)
  // LockUnsupportedError takes no cause; attach it as Error's constructor would.
  Object.defineProperty(err, 'cause', { value: cause, writable: true, configurable: true })
  return err
}

function firstLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err)
  return text.split('\n')[0] ?? text
}
