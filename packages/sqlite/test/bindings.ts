import { createRequire } from 'node:module'
import type { SqliteBinding } from '@baton-lock/sqlite'

/**
 * The SQLite bindings the tests run every driver check on: better-sqlite3 always (a
 * devDependency, and the fallback on Node 20; on other Node majors the test matrix points
 * BATON_SQLITE_NATIVE_BINDING at an addon built for that ABI), and `node:sqlite` wherever
 * this Node has it. binding.test.ts checks that "has it" is exactly Node 22.13 and later,
 * so the node:sqlite variant cannot silently drop out of a run on a Node that has it.
 */
export const TEST_BINDINGS: readonly SqliteBinding[] = hasNodeSqlite()
  ? ['node', 'better-sqlite3']
  : ['better-sqlite3']

/** True when `require('node:sqlite')` works here without flags. */
export function hasNodeSqlite(): boolean {
  try {
    createRequire(import.meta.url)('node:sqlite')
    return true
  } catch {
    return false
  }
}

/** True on Node 22.13 and later (23.4 and later on 23), where node:sqlite needs no flag. */
export function nodeShipsSqlite(version = process.versions.node): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number)
  if (major === 22) return minor >= 13
  if (major === 23) return minor >= 4
  return major > 23
}
