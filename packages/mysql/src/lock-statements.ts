/** The SQL a lock session sends, specialised once for the driver's fence table. */
export interface LockStatements {
  /** Creates the fence table unless it exists. */
  readonly createTable: string
  /**
   * Takes lock name `?` waiting up to `?` seconds (0 for one attempt) and, only when
   * granted, bumps the name's fence row and records the key `?` and owner `?` there; one
   * round trip of four statements whose last result row is `{ got, fence }` (`got` 1
   * granted, 0 timed out, NULL killed or error; `fence` the new fence when granted).
   */
  readonly lock: string
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
 * is changed only by the statement that was just granted the name, inside the same round
 * trip, so every holder's fence is strictly greater than the previous holder's (S3). The
 * row is an InnoDB row committed with the statement (autocommit): it survives a server
 * restart, and a crash too with `innodb_flush_log_at_trx_commit = 1` (the default).
 */
export function lockStatements(table: string, database: string | undefined): LockStatements {
  const qualified =
    database === undefined ? quoteIdent(table) : `${quoteIdent(database)}.${quoteIdent(table)}`
  return Object.freeze({
    createTable:
      `CREATE TABLE IF NOT EXISTS ${qualified} (` +
      'name VARBINARY(255) NOT NULL PRIMARY KEY, fence BIGINT UNSIGNED NOT NULL, ' +
      'lock_key MEDIUMBLOB NOT NULL, owner VARBINARY(255) NOT NULL, holder BIGINT UNSIGNED NOT NULL, ' +
      'KEY baton_fence_key (lock_key(255))) ENGINE=InnoDB',
    lock: [
      // two statements: within one SET, later expressions see the variables' old values
      'SET @baton_name = ?, @baton_key = ?, @baton_owner = ?',
      'SET @baton_got = GET_LOCK(@baton_name, ?)',
      `INSERT INTO ${qualified} (name, fence, lock_key, owner, holder) ` +
        'SELECT @baton_name, LAST_INSERT_ID(1), @baton_key, @baton_owner, CONNECTION_ID() FROM DUAL WHERE @baton_got = 1 ' +
        'ON DUPLICATE KEY UPDATE fence = LAST_INSERT_ID(fence + 1), owner = @baton_owner, holder = CONNECTION_ID()',
      'SELECT @baton_got AS got, IF(@baton_got = 1, LAST_INSERT_ID(), NULL) AS fence',
    ].join('; '),
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

/** Quotes an SQL identifier: a`b -> `a``b`. */
export function quoteIdent(identifier: string): string {
  if (identifier.length === 0) throw new TypeError('fence table and database must not be empty')
  return `\`${identifier.replaceAll('`', '``')}\``
}
