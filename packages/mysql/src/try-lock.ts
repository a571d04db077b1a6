import type { FenceTable } from './fence-table.js'
import { type LockSession, lastRow } from './lock-session.js'
import { sweepLateGrant } from './server-wait.js'

/** `Table ... doesn't exist`: the fence table is not there yet (first use on this database). */
const ER_NO_SUCH_TABLE = 1146

/**
 * One `GET_LOCK(name, 0)` with the fence bump on `session`, in one round trip (plus the
 * session's `wait_timeout` when it changes, in the same round trip). Resolves the new
 * fence, or null when someone else holds the name. After a statement error that leaves
 * the session alive, the name may be held with no fence handed out (the `GET_LOCK` ran,
 * the `INSERT` failed), so it is released before the error is thrown (S4); a missing
 * fence table is created and the try repeated once.
 */
export async function tryLock(
  session: LockSession,
  name: string,
  req: { readonly key: string; readonly owner: string },
  fences: FenceTable,
): Promise<bigint | null> {
  for (let attempt = 1; ; attempt++) {
    const settings = session.takeSettings()
    try {
      const result = await session.query(settings + session.statements.lock, [
        name,
        req.key,
        req.owner,
        0,
      ])
      const row = lastRow(result)
      if (Number(row?.got) !== 1 || row?.fence == null) return null
      return BigInt(String(row.fence))
    } catch (err) {
      if (session.ended) throw err
      await sweepLateGrant(session, name)
      if (attempt > 1 || (err as { errno?: unknown }).errno !== ER_NO_SUCH_TABLE) throw err
      await fences.ensure()
    }
  }
}
