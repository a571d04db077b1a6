import { sleep } from '@baton-lock/core/driver'
import { type LockSession, lastHeader, lastRow } from './lock-session.js'
import { grantedFence } from './lock-statements.js'
import type { SessionPool } from './session-pool.js'

/**
 * `GET_LOCK`'s timeout for "no deadline": MariaDB returns NULL at once for a negative
 * timeout, so "for ever" is one year (the waiter is cancelled long before, or granted).
 */
const FOREVER_S = 31_536_000
/** After a cancel, the wait must end within this long, or the session is dropped. */
const CANCEL_GRACE_MS = 5_000

/**
 * What a finished server-side wait produced: the fence of a grant (null: none), and whether
 * the name was taken when the wait began (false: granted at once by the server's try).
 */
export interface WaitOutcome {
  readonly fence: bigint | null
  readonly waited: boolean
}

const NOT_GRANTED: WaitOutcome = Object.freeze({ fence: null, waited: true })

/**
 * Runs `GET_LOCK(name, seconds left)` and the fence bump (prepared server-side in front of
 * the session's first wait) on `session`, which holds nothing and is marked waiting: the server wakes it when the holder releases (push, L4). Both
 * servers take a fractional timeout. When `signal` aborts, the wait is cancelled
 * server-side with `KILL QUERY` from another session (the waiting `GET_LOCK` then returns
 * NULL and the session stays usable); the session is dropped if that fails. After any
 * wait that did not report a grant, a grant that won the race is found
 * (`IS_USED_LOCK(name) = CONNECTION_ID()`) and released before the session is used again
 * (S4). Resolves null when not granted; throws raw errors (e.g. a broken connection).
 * `rowName`: the fence row to bump when it is not `name`'s own (a semaphore's base row).
 */
export async function waitOnServer(
  session: LockSession,
  pool: SessionPool,
  name: string,
  req: { readonly key: string; readonly owner: string },
  deadlineMs: number,
  signal: AbortSignal,
  rowName: string = name,
): Promise<WaitOutcome> {
  const remainingMs = deadlineMs - performance.now()
  if (remainingMs <= 0 || signal.aborted) return NOT_GRANTED
  const seconds = Number.isFinite(remainingMs)
    ? Math.min(FOREVER_S, Math.max(0.001, remainingMs / 1000))
    : FOREVER_S
  let cancel: Promise<void> | undefined
  let guard: NodeJS.Timeout | undefined
  const onAbort = () => {
    cancel = cancelWait(session, pool)
    guard = setTimeout(() => session.destroy(), CANCEL_GRACE_MS)
    guard.unref()
  }
  signal.addEventListener('abort', onAbort, { once: true })
  let granted = false
  try {
    const settings = session.takeSettings()
    const prepare = session.waitPrepared ? '' : session.statements.prepareWait
    // a failed round trip may or may not have prepared the bump: prepare it again next time
    session.waitPrepared = false
    const result = await session.query(settings + prepare + session.statements.wait, [
      rowName,
      req.key,
      req.owner,
      name,
      name,
      seconds.toFixed(3),
    ])
    session.waitPrepared = true
    // the results end with the row of `SELECT @baton_got` (the try), the wait's SET and the bump's OK packet
    const fence = grantedFence(lastHeader(result))
    granted = fence !== null
    return { fence, waited: Number(lastRow(result)?.got) !== 1 }
  } catch (err) {
    // KILL QUERY between GET_LOCK and the fence bump (1317) or any other statement error:
    // the name may be held with no fence handed out; the sweep below frees it
    if (session.ended) throw err
    if ((err as { errno?: unknown }).errno !== ER_QUERY_INTERRUPTED) throw err
    return NOT_GRANTED
  } finally {
    signal.removeEventListener('abort', onAbort)
    // a cancel still on its way must not hit the session's next statement
    await cancel
    clearTimeout(guard)
    if (!granted && !session.ended) await sweepLateGrant(session, name)
  }
}

/** `Query execution was interrupted`: a KILL QUERY ended the statement. */
export const ER_QUERY_INTERRUPTED = 1317

async function cancelWait(session: LockSession, pool: SessionPool): Promise<void> {
  const giveUp = new AbortController()
  try {
    const control = await pool.forControl(
      AbortSignal.any([giveUp.signal, AbortSignal.timeout(CANCEL_GRACE_MS)]),
    )
    if (control === undefined) throw new Error('no control session')
    // the id is an integer from the handshake, never user input
    const cancel = control.query(`KILL QUERY ${session.id}`).then(() => true)
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

/** Releases `name` if a timed-out or cancelled wait was granted after all; drops the session on doubt. */
export async function sweepLateGrant(session: LockSession, name: string): Promise<void> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await session.query(session.statements.unlockIfHeld, [name, name])
      return
    } catch (err) {
      if (session.ended) return
      if ((err as { errno?: unknown }).errno !== ER_QUERY_INTERRUPTED) break
    }
  }
  session.destroy()
}
