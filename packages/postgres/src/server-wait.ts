import { sleep } from '@baton-lock/core/driver'
import { type LockSession, type RowValue, rowQuery } from './lock-session.js'
import type { SessionPool } from './session-pool.js'
import type { WaitStop } from './wait-stop.js'

/** lock_timeout is an int of milliseconds on the server. */
const MAX_LOCK_TIMEOUT_MS = 2_147_483_647
/** After a cancel, the wait must end within this long, or the session is dropped. */
const CANCEL_GRACE_MS = 5_000

/** A blocking statement and the sweep that undoes a grant that won the race against its end. */
export interface WaitStatement {
  /** Prepared statement name of the wait. */
  readonly name: string
  readonly text: string
  /** Its parameters for a `lock_timeout` of `timeout` ('250ms', '0' for none). */
  values(timeout: string): RowValue[]
  readonly sweepName: string
  /** Releases what the wait may have been granted, only where this session holds it. */
  readonly sweepText: string
  readonly sweepValues: unknown[]
}

/** What a finished server-side wait produced; `waited` is false when the key was free at once. */
export type WaitOutcome = {
  readonly fence: bigint
  readonly pid: number
  readonly waited: boolean
} | null

/**
 * Runs the blocking statement of `wait` (e.g. `pg_advisory_lock`) on `session` (which holds nothing and is marked waiting) under
 * `lock_timeout` = the time left until `deadlineMs`. When `stop` fires, the statement
 * is cancelled server-side with `pg_cancel_backend` from another session (the session is
 * dropped if that fails). After a timeout or cancel, a grant that won the race is found in
 * `pg_locks` and released before the session is used again (S4). Resolves null when not
 * granted; throws raw errors (e.g. 40P01 deadlock, a broken connection).
 */
export async function waitOnServer(
  session: LockSession,
  pool: SessionPool,
  wait: WaitStatement,
  deadlineMs: number,
  stop: WaitStop,
): Promise<WaitOutcome> {
  const remainingMs = deadlineMs - performance.now()
  if (remainingMs <= 0 || stop.stopped) return null
  const timeout = Number.isFinite(remainingMs)
    ? `${Math.min(MAX_LOCK_TIMEOUT_MS, Math.max(1, Math.ceil(remainingMs)))}ms`
    : '0'
  let cancel: Promise<void> | undefined
  let guard: NodeJS.Timeout | undefined
  let ended = false
  stop.onStop(() => {
    if (ended) return
    cancel = cancelWait(session, pool)
    guard = setTimeout(() => session.destroy(), CANCEL_GRACE_MS)
    guard.unref()
  })
  try {
    const row = await session.row(rowQuery(wait.name, wait.text, wait.values(timeout)))
    if (row === undefined) throw new Error('the advisory lock wait returned no row')
    return {
      fence: BigInt(row.fence as string),
      pid: row.pid as number,
      waited: row.waited === true,
    }
  } catch (err) {
    if (!isWaitEnded(err)) throw err
    await cancel
    await sweepLateGrant(session, wait)
    return null
  } finally {
    ended = true
    // a cancel still on its way must not hit the session's next statement
    if (cancel !== undefined) await cancel
    clearTimeout(guard)
  }
}

/** True for the errors that end a wait without a grant: lock_timeout (55P03) and cancel (57014). */
export function isWaitEnded(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code
  return code === '55P03' || code === '57014'
}

async function cancelWait(session: LockSession, pool: SessionPool): Promise<void> {
  const giveUp = new AbortController()
  try {
    const control = await pool.forControl(
      AbortSignal.any([giveUp.signal, AbortSignal.timeout(CANCEL_GRACE_MS)]),
    )
    if (control === undefined) throw new Error('no control session')
    const cancel = control
      .query<{ cancelled: boolean }>(
        'SELECT pg_cancel_backend($1) AS cancelled',
        [session.pid],
        'baton_cancel',
      )
      .then((r) => r.rows[0]?.cancelled === true)
    // an unreachable server must not hold the cleanup (and close()) up for ever
    const timedOut = sleep(CANCEL_GRACE_MS, giveUp.signal).then(() => false)
    if (!(await Promise.race([cancel, timedOut]))) session.destroy()
  } catch {
    // no way to reach the server: dropping the connection ends the wait and frees any grant
    session.destroy()
  } finally {
    giveUp.abort()
  }
}

/** Releases what a timed-out or cancelled wait was granted after all; drops the session on doubt. */
async function sweepLateGrant(session: LockSession, wait: WaitStatement): Promise<void> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await session.query(wait.sweepText, wait.sweepValues, wait.sweepName)
      return
    } catch (err) {
      if (session.ended) return
      if (!isWaitEnded(err)) break
    }
  }
  session.destroy()
}
