import { type AcquireRequest, LockLimitMismatchError } from '@baton-lock/core/driver'
import { type LockSession, type Row, type RowQuery, rowQuery } from './lock-session.js'
import type { LockStatements } from './lock-statements.js'
import { advisoryKey, semaphoreChannel, semaphoreClaim, semaphoreKey } from './postgres-key.js'
import type { WaitStatement } from './server-wait.js'

/** One try's answer: the backend that ran it, and the grant if there was one. */
export interface Attempt {
  readonly pid: number | undefined
  readonly grant: { readonly fence: bigint; readonly unlock: RowQuery } | null
}

/** A server-side wait of a target, and how to release what it grants. */
export interface TargetWait {
  readonly statement: WaitStatement
  readonly unlock: RowQuery
}

/**
 * What a request locks on the server, per mode: the session claim that keeps a session
 * from holding it twice (advisory locks re-enter per session), one non-blocking try, and
 * how it waits: a blocking statement for a lock, notifications for a semaphore. The
 * statements are built with the target, once per acquire, and sent as they are.
 */
export type LockTarget = KeyTarget | SemaphoreTarget

interface TargetBase {
  /** Claimed on the session for the request's life; a session never claims one twice. */
  readonly claim: bigint
  /** The one non-blocking try. */
  readonly tryQuery: RowQuery
  /** Reads the try's row; throws `LockLimitMismatchError` when a semaphore's holders use another limit. */
  outcome(row: Row | undefined): Attempt
}

/** The key's advisory lock, exclusive or shared: waits in `pg_advisory_lock[_shared]`. */
export interface KeyTarget extends TargetBase {
  readonly mode: 'exclusive' | 'shared'
  /** The server-side wait and how to release what it grants. */
  wait(): TargetWait
}

/** A semaphore: waiters LISTEN on its channel, and every release notifies it. */
export interface SemaphoreTarget extends TargetBase {
  readonly mode: 'semaphore'
  readonly channel: string
}

/** The target of `req` with the driver's `statements`: the key's advisory lock in exclusive or shared mode, or a semaphore. */
export function lockTarget(req: AcquireRequest, statements: LockStatements): LockTarget {
  if (req.mode === 'semaphore') return semaphoreTarget(req.key, req.limit, statements)
  return keyTarget(advisoryKey(req.key), req.mode === 'shared', statements)
}

/** One non-blocking try of `target` on `session`. */
export async function attempt(session: LockSession, target: LockTarget): Promise<Attempt> {
  return target.outcome(await session.row(target.tryQuery))
}

function keyTarget(key: bigint, shared: boolean, st: LockStatements): KeyTarget {
  const id = key.toString()
  const values = [id]
  const unlock = shared
    ? rowQuery('baton_unlock_shared', st.unlockShared, values)
    : rowQuery('baton_unlock', st.unlock, values)
  return {
    mode: shared ? 'shared' : 'exclusive',
    claim: key,
    tryQuery: shared
      ? rowQuery('baton_try_shared', st.tryShared, values)
      : rowQuery('baton_try', st.tryLock, values),
    outcome(row) {
      // fence is null when the key is taken
      const fence = row?.fence as string | null | undefined
      const pid = row?.pid as number | undefined
      if (fence === null || fence === undefined) return { pid, grant: null }
      return { pid, grant: { fence: BigInt(fence), unlock } }
    },
    wait() {
      const statement: WaitStatement = shared
        ? {
            name: 'baton_wait_shared',
            text: st.waitShared,
            values: (timeout) => [id, timeout],
            sweepName: 'baton_sweep_shared',
            sweepText: st.unlockSharedIfHeld,
            sweepValues: values,
          }
        : {
            name: 'baton_wait',
            text: st.waitLock,
            values: (timeout) => [id, timeout],
            sweepName: 'baton_sweep',
            sweepText: st.unlockIfHeld,
            sweepValues: values,
          }
      return { statement, unlock }
    },
  }
}

function semaphoreTarget(
  key: string,
  limit: number | undefined,
  st: LockStatements,
): SemaphoreTarget {
  if (limit === undefined || !Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
    throw new RangeError(`semaphore limit must be an integer from 1 to ${MAX_LIMIT}, got ${limit}`)
  }
  const sem = semaphoreKey(key)
  const channel = semaphoreChannel(sem)
  return {
    mode: 'semaphore',
    claim: semaphoreClaim(sem),
    channel,
    tryQuery: rowQuery('baton_sem_try', st.semaphoreTry, [sem, limit]),
    outcome(row) {
      const pid = row?.pid as number | undefined
      const heldLimit = row?.held_limit as number | null | undefined
      if (heldLimit !== null && heldLimit !== undefined) {
        throw new LockLimitMismatchError(key, limit, heldLimit)
      }
      const slot = row?.slot as number | null | undefined
      const fence = row?.fence as string | null | undefined
      if (slot === null || slot === undefined || fence === null || fence === undefined) {
        return { pid, grant: null }
      }
      const unlock = rowQuery('baton_sem_unlock', st.semaphoreUnlock, [sem, limit, slot, channel])
      return { pid, grant: { fence: BigInt(fence), unlock } }
    },
  }
}

/** Core's largest semaphore limit. */
const MAX_LIMIT = 10_000
