import type { BackendTarget, ContenderSpec, LockClient, Release } from '../lock-client.js'
import { ownerId } from './owner-id.js'
import { openSqlite } from './sqlite-database.js'

const TTL_MS = 30_000

/**
 * The hand-written SQLite floor: one connection with @baton-lock/sqlite's pragmas, a lease row
 * taken by one autocommit upsert that only overwrites an expired row, and an owner-checked
 * delete: two write transactions per uncontended cycle (no fence counter). Attempt-only.
 */
export const sqliteFloor: ContenderSpec = {
  name: 'floor: upsert-if-expired + owner delete',
  role: 'floor',
  waits: false,
  async open(target: BackendTarget): Promise<LockClient> {
    const db = openSqlite(target.url)
    db.exec(`CREATE TABLE IF NOT EXISTS bench_floor_leases (
      key TEXT NOT NULL PRIMARY KEY, owner TEXT NOT NULL, expires_at INTEGER NOT NULL
    ) WITHOUT ROWID`)
    const take =
      db.prepare(`INSERT INTO bench_floor_leases (key, owner, expires_at) VALUES (?, ?, ?)
      ON CONFLICT (key) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
      WHERE bench_floor_leases.expires_at <= ?`)
    const drop = db.prepare('DELETE FROM bench_floor_leases WHERE key = ? AND owner = ?')
    return {
      async acquire(key: string): Promise<Release | null> {
        const owner = ownerId()
        // Wall-clock expiry, as in @baton-lock/sqlite: other processes judge it.
        const nowMs = Date.now()
        if (take.run(key, owner, nowMs + TTL_MS, nowMs).changes === 0) return null
        return async () => {
          drop.run(key, owner)
        }
      },
      async close() {
        db.close()
      },
    }
  },
}
