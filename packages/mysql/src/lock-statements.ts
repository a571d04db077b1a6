import mysql from 'mysql2'

/** The SQL a lock session sends, specialised once for the driver's fence table. */
export interface LockStatements {
  /** The fence table, quoted (and qualified with its database when one was given). */
  readonly table: string
  /** Creates the fence table unless it exists. */
  readonly createTable: string
  /**
   * One attempt, one statement (sent as a prepared statement): takes lock name `?` with
   * `GET_LOCK(?, 0)` and, only when granted, bumps the name's fence row and records the key
   * `?` and owner `?` there. Values: name, key, owner, name, owner. The OK packet says it
   * all: `affectedRows` > 0 and `insertId` the new fence when granted, 0 and 0 when the name
   * is held by another session. Never blocks: the write statement must not run for long
   * (see `wait`).
   */
  readonly tryLock: string
  /**
   * A blocking attempt, four statements in one round trip: `SET @baton_n = ?, @baton_k = ?,
   * @baton_o = ?, @baton_got = GET_LOCK(?, 0)` (row name, key, owner, lock name), `SELECT
   * @baton_got AS got`, `SET @baton_got = IF(@baton_got = 1, 1, GET_LOCK(?, ?))` (lock
   * name, seconds), then `EXECUTE baton_wait_bump`, the fence bump of `prepareWait` under
   * `@baton_got = 1`. The try in front, on the server, says whether the wait waited (`got`
   * 1: the name was free); its row is sent before the wait blocks, so reading it costs the
   * wake-up nothing. After the wait `@baton_got` is 1 when granted, 0 on timeout, NULL when
   * killed. The wait runs in a plain `SET`, not inside the `INSERT`, so a waiter never
   * keeps a write statement, the fence table's metadata lock and an InnoDB transaction open
   * for as long as it waits (which would hold up `FLUSH TABLES WITH READ LOCK` of a backup,
   * and every write behind it). The bump after the wake is a statement the server parsed
   * already; the last result's `insertId` is the fence when granted.
   */
  readonly wait: string
  /**
   * `PREPARE baton_wait_bump FROM '...'; `: the session's server-side copy of the fence
   * bump that `wait` executes, reading its values from `@baton_n`, `@baton_k`, `@baton_o`
   * and `@baton_got`. Sent in front of a session's first wait, in the same round trip.
   */
  readonly prepareWait: string
  /** Releases `?`; `released` 1 when this session held it, 0 when another does, NULL when nobody. */
  readonly unlock: string
  /** Releases `?` only if this session holds it (no effect otherwise): the late-grant sweep (S4). */
  readonly unlockIfHeld: string
  /**
   * `{ holder, fence, owner }` of name `?`: the connection id holding it (NULL when free),
   * and the fence and owner Baton recorded, when the recorded connection is the holder.
   */
  readonly inspect: string
  /** `{ lock_key, fence, owner }` of every held name whose key is LIKE `?` (escape `!`). */
  readonly list: string
}

/**
 * Builds the statements for the fence table `database.table` (either part quoted here, so
 * any identifier works; no database means the connection's own). The fence row of a name
 * is changed only by the statement that was just granted the name, so every holder's
 * fence is strictly greater than the previous holder's (S3). The row is an InnoDB row
 * committed with the statement (autocommit): it survives a server restart, and a crash
 * too with `innodb_flush_log_at_trx_commit = 1` (the default). `LAST_INSERT_ID(expr)`
 * puts the new fence into the OK packet, so no `SELECT` is needed to read it back.
 */
export function lockStatements(table: string, database: string | undefined): LockStatements {
  const qualified =
    database === undefined ? quoteIdent(table) : `${quoteIdent(database)}.${quoteIdent(table)}`
  const bump = (granted: string, [name, key, owner]: readonly string[] = ['?', '?', '?']) =>
    `INSERT INTO ${qualified} (name, fence, lock_key, owner, holder) ` +
    `SELECT ${name}, LAST_INSERT_ID(1), ${key}, ${owner}, CONNECTION_ID() FROM DUAL WHERE ${granted} ` +
    `ON DUPLICATE KEY UPDATE fence = LAST_INSERT_ID(fence + 1), owner = ${owner}, holder = CONNECTION_ID()`
  const waitBump = bump('@baton_got = 1', ['@baton_n', '@baton_k', '@baton_o'])
  return Object.freeze({
    table: qualified,
    createTable:
      `CREATE TABLE IF NOT EXISTS ${qualified} (` +
      'name VARBINARY(255) NOT NULL PRIMARY KEY, fence BIGINT UNSIGNED NOT NULL, ' +
      'lock_key MEDIUMBLOB NOT NULL, owner VARBINARY(255) NOT NULL, holder BIGINT UNSIGNED NOT NULL, ' +
      'KEY baton_fence_key (lock_key(255))) ENGINE=InnoDB',
    tryLock: bump('GET_LOCK(?, 0) = 1'),
    wait:
      'SET @baton_n = ?, @baton_k = ?, @baton_o = ?, @baton_got = GET_LOCK(?, 0); ' +
      'SELECT @baton_got AS got; ' +
      'SET @baton_got = IF(@baton_got = 1, 1, GET_LOCK(?, ?)); EXECUTE baton_wait_bump',
    // escaped as mysql2 escapes every value of a text query
    prepareWait: `PREPARE baton_wait_bump FROM ${mysql.escape(waitBump)}; `,
    unlock: 'SELECT RELEASE_LOCK(?) AS released',
    unlockIfHeld: 'SELECT IF(IS_USED_LOCK(?) = CONNECTION_ID(), RELEASE_LOCK(?), NULL) AS released',
    inspect:
      'SELECT d.holder, f.fence, f.owner FROM (SELECT IS_USED_LOCK(?) AS holder, ? AS name) d ' +
      `LEFT JOIN ${qualified} f ON f.name = d.name AND f.holder = d.holder`,
    list:
      `SELECT lock_key, fence, owner, holder FROM ${qualified} ` +
      "WHERE lock_key LIKE ? ESCAPE '!' AND IS_USED_LOCK(name) = holder",
  })
}

/**
 * The fence of a grant from the OK packet of a fence bump (`insertId`, set by
 * `LAST_INSERT_ID(expr)`), or null when the statement granted nothing.
 */
export function grantedFence(header: unknown): bigint | null {
  const h = header as { affectedRows?: unknown; insertId?: unknown } | null | undefined
  if (h == null || !(Number(h.affectedRows) > 0)) return null
  const fence = BigInt(String(h.insertId ?? 0))
  return fence > 0n ? fence : null
}

/** Quotes an SQL identifier: a`b -> `a``b`. */
export function quoteIdent(identifier: string): string {
  if (identifier.length === 0) throw new TypeError('fence table and database must not be empty')
  return `\`${identifier.replaceAll('`', '``')}\``
}
