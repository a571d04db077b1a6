import type { LockSession, RowQuery } from './lock-session.js'
import { quoteIdent } from './lock-statements.js'
import { attempt, type SemaphoreTarget } from './lock-target.js'
import { assertSameBackend } from './session-heartbeat.js'

/** A semaphore waiter tries every slot again at least this often, notified or not. */
const BACKSTOP_MS = 250

/** A permit a wait was granted: its fence, how to release it, when the granting try was sent. */
export interface GrantedPermit {
  readonly fence: bigint
  readonly unlock: RowQuery
  readonly sentAtMs: number
}

/**
 * A semaphore wait on `session` (marked waiting, holding nothing). A session can block on
 * one lock only, and a permit can come free on any slot, so the waiter LISTENs on the
 * semaphore's channel (every release notifies it) and tries every slot again on each
 * notification, and at least every `BACKSTOP_MS` (a third of the session's TTL if
 * shorter: its idle_session_timeout) for slots freed without one (a holder's session
 * ended). Only non-blocking statements run, so an abort just ends the loop; null when the
 * deadline passes or `signal` aborts.
 */
export async function waitForPermit(
  session: LockSession,
  target: SemaphoreTarget,
  deadlineMs: number,
  signal: AbortSignal,
): Promise<GrantedPermit | null> {
  let notified = false
  let wake: (() => void) | undefined
  session.onNotify = (channel) => {
    if (channel !== target.channel) return
    notified = true
    wake?.()
  }
  const channel = quoteIdent(target.channel)
  try {
    await session.query(`LISTEN ${channel}`)
    for (;;) {
      notified = false
      const sentAtMs = performance.now()
      const outcome = await attempt(session, target)
      assertSameBackend(session, outcome.pid)
      if (outcome.grant !== null) return { ...outcome.grant, sentAtMs }
      const leftMs = deadlineMs - performance.now()
      if (leftMs <= 0 || signal.aborted) return null
      if (notified) continue
      const backstopMs = Math.min(BACKSTOP_MS, session.ttlMs / 3)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, Math.min(leftMs, backstopMs))
        signal.addEventListener('abort', done, { once: true })
        wake = done
        function done() {
          clearTimeout(timer)
          signal.removeEventListener('abort', done)
          resolve()
        }
      })
      wake = undefined
      if (signal.aborted) return null
    }
  } finally {
    session.onNotify = undefined
    if (session.usable) {
      await session.query(`UNLISTEN ${channel}`).catch(() => session.destroy())
    }
  }
}
