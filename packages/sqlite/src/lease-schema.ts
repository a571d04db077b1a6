import type { SqliteConnection } from './sqlite-connection.js'

/*
 * Schema. `baton_leases` has one row per key held exclusively and loses it on release.
 * `baton_shared` has one row per shared (read) holder of a key, `baton_permits` one per
 * semaphore permit in use, each with its own expiry. `baton_fences` keeps one counter per
 * lock key ever taken, in either mode: it survives release, restart and expiry, which is
 * what makes fencing durable within the file and strictly increasing across modes (F1).
 * `baton_permit_fences` is the same per semaphore key: a semaphore is a resource apart
 * from the lock of the same key. `baton_values` keeps an election leader's advertised
 * value beside its exclusive lease (owner-matched, so a stale row is never reported).
 *
 * `baton_waiters` is the queue: one ticket per waiting request, in arrival order (`seq`),
 * with its mode, its own wall-clock expiry that the waiter keeps pushing forward while it
 * lives, and the address of its process's wake socket. Lock tickets (`exclusive`,
 * `shared`) and semaphore tickets (`semaphore`) of one key form two separate queues. A
 * grant skips nobody: an exclusive grant only succeeds when no live lock ticket of the key
 * is older than the caller's, a shared grant when no older exclusive ticket waits (so the
 * readers at the head of the queue are admitted together, and a waiting writer holds back
 * every later reader: R2), a permit when no older semaphore ticket waits. A request that
 * is not queued is younger than every ticket. The triggers keep each grant one statement:
 * inserting or re-fencing a holder row records its fence (never lowering it, so a process
 * running an older release that writes `baton_fences` itself agrees) and drops the new
 * holder's ticket.
 *
 * `expires_at` is WALL-CLOCK time (Date.now(), ms since the epoch). Expiry must be judged
 * by every process that opens the file, and the monotonic clock (performance.now()) has a
 * different origin in each process, so it cannot be stored. Core still decides a
 * holder's own validity on its monotonic clock; the wall clock only decides when OTHER
 * processes may take an unrenewed lease. A wall-clock jump forward by X ms therefore
 * lets another process take a lease up to X ms before the holder's own validity ends.
 */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS baton_leases (
  key        TEXT    NOT NULL PRIMARY KEY,
  owner      TEXT    NOT NULL,
  fence      INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS baton_fences (
  key   TEXT    NOT NULL PRIMARY KEY,
  fence INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS baton_waiters (
  seq        INTEGER PRIMARY KEY,
  key        TEXT    NOT NULL,
  owner      TEXT    NOT NULL,
  expires_at INTEGER NOT NULL,
  wake       TEXT
);
CREATE INDEX IF NOT EXISTS baton_waiters_by_key ON baton_waiters (key, seq);
CREATE TRIGGER IF NOT EXISTS baton_granted_insert AFTER INSERT ON baton_leases BEGIN
  INSERT INTO baton_fences (key, fence) VALUES (new.key, new.fence)
    ON CONFLICT (key) DO UPDATE SET fence = max(fence, excluded.fence);
  DELETE FROM baton_waiters WHERE key = new.key AND owner = new.owner;
END;
CREATE TRIGGER IF NOT EXISTS baton_granted_update AFTER UPDATE OF fence ON baton_leases BEGIN
  INSERT INTO baton_fences (key, fence) VALUES (new.key, new.fence)
    ON CONFLICT (key) DO UPDATE SET fence = max(fence, excluded.fence);
  DELETE FROM baton_waiters WHERE key = new.key AND owner = new.owner;
END;
`

/** Added in 0.2 (shared locks, semaphores, election values); every statement idempotent. */
const MODES_SCHEMA = `
CREATE TABLE IF NOT EXISTS baton_shared (
  key        TEXT    NOT NULL,
  owner      TEXT    NOT NULL,
  fence      INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  PRIMARY KEY (key, owner)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS baton_permits (
  key        TEXT    NOT NULL,
  owner      TEXT    NOT NULL,
  fence      INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  lim        INTEGER NOT NULL,
  PRIMARY KEY (key, owner)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS baton_permit_fences (
  key   TEXT    NOT NULL PRIMARY KEY,
  fence INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS baton_values (
  key   TEXT NOT NULL,
  owner TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (key, owner)
) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS baton_shared_granted AFTER INSERT ON baton_shared BEGIN
  INSERT INTO baton_fences (key, fence) VALUES (new.key, new.fence)
    ON CONFLICT (key) DO UPDATE SET fence = max(fence, excluded.fence);
  DELETE FROM baton_waiters WHERE key = new.key AND owner = new.owner;
END;
CREATE TRIGGER IF NOT EXISTS baton_permit_granted AFTER INSERT ON baton_permits BEGIN
  INSERT INTO baton_permit_fences (key, fence) VALUES (new.key, new.fence)
    ON CONFLICT (key) DO UPDATE SET fence = max(fence, excluded.fence);
  DELETE FROM baton_waiters WHERE key = new.key AND owner = new.owner;
END;
`

/**
 * Creates the tables of a new file and migrates one made by an earlier release: the new
 * tables are created if absent, and `baton_waiters` gains its `mode` column (existing
 * tickets are exclusive, the only mode before). The column is added inside `BEGIN
 * IMMEDIATE` after a re-check, so processes opening the file at once add it once.
 */
export function applySchema(db: SqliteConnection): void {
  db.exec(SCHEMA)
  db.exec(MODES_SCHEMA)
  const columns = db.prepare(
    "SELECT 1 AS found FROM pragma_table_info('baton_waiters') WHERE name = 'mode'",
  )
  if (columns.get() !== undefined) return
  db.immediate(() => {
    if (columns.get() !== undefined) return
    db.exec("ALTER TABLE baton_waiters ADD COLUMN mode TEXT NOT NULL DEFAULT 'exclusive'")
  })()
}
