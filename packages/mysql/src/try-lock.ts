import type { FenceTable } from './fence-table.js'
import { type LockSession, lastHeader } from './lock-session.js'
import { grantedFence } from './lock-statements.js'
import { sweepLateGrant } from './server-wait.js'

/** `Table ... doesn't exist`: the fence table is not there yet (first use on this database). */
const ER_NO_SUCH_TABLE = 1146

/**
 * One `GET_LOCK(name, 0)` with the fence bump on `session`: one prepared statement, one
 * round trip (when the session's `wait_timeout` changes, the `SET` goes in front of the
 * statement as text, still one round trip). Resolves the new fence, or null when someone
 * else holds the name. After a statement error that leaves the session alive, the name may
 * be held with no fence handed out (the `GET_LOCK` ran, the write failed), so it is
 * released before the error is thrown (S4); a missing fence table is created and the try
 * repeated once.
 */
export async function tryLock(
  session: LockSession,
  name: string,
  req: { readonly key: string; readonly owner: string },
  fences: FenceTable,
): Promise<bigint | null> {
  const values = [name, req.key, req.owner, name, req.owner]
  for (let attempt = 1; ; attempt++) {
    const settings = session.takeSettings()
    const sql = session.statements.tryLock
    try {
      const result =
        settings === ''
          ? await session.execute(sql, values)
          : await session.query(settings + sql, values)
      return grantedFence(lastHeader(result))
    } catch (err) {
      if (session.ended) throw err
      await sweepLateGrant(session, name)
      if (attempt > 1 || (err as { errno?: unknown }).errno !== ER_NO_SUCH_TABLE) throw err
      await fences.ensure()
    }
  }
}
