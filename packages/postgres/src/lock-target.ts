import { type AcquireRequest, LockLimitMismatchError } from '@baton-lock/core/driver'
import type { LockSession } from './lock-session.js'
import type { LockStatements } from './lock-statements.js'
import { advisoryKey, semaphoreChannel, semaphoreClaim, semaphoreKey } from './postgres-key.js'
import type { BoundStatement } from './postgres-lease.js'
import type { WaitStatement } from './server-wait.js'

/** One try's answer: the backend that ran it, and the grant if there was one. */
export interface Attempt {
  readonly pid: number | undefined
  readonly grant: { readonly fence: bigint; readonly unlock: BoundStatement } | null
}

/** A server-side wait of a target, and how to release what it grants. */
export interface TargetWait {
  readonly statement: WaitStatement
  readonly unlock: BoundStatement
}

/**
 * What a request locks on the server, per mode: the session claim that keeps a session
 * from holding it twice (advisory locks re-enter per session), one non-blocking try, and
 * how it waits: a blocking statement for a lock, notifications for a semaphore.
 */
export type LockTarget = KeyTarget | SemaphoreTarget

interface TargetBase {
  /** Claimed on the session for the request's life; a session never claims one twice. */
  readonly claim: bigint
  /** One non-blocking try; throws `LockLimitMismatchError` when a semaphore's holders use another limit. */
  attempt(session: LockSession): Promise<Attempt>
}

/** The key's advisory lock, exclusive or shared: waits in `pg_advisory_lock[_shared]`. */
export interface KeyTarget extends TargetBase {
  readonly mode: 'exclusive' | 'shared'
  /** The server-side wait and how to release what it grants. */
  wait(statements: LockStatements): TargetWait
}

/** A semaphore: waiters LISTEN on its channel, and every release notifies it. */
export interface SemaphoreTarget extends TargetBase {
  readonly mode: 'semaphore'
  readonly channel: string
}

/** The target of `req`: the key's advisory lock in exclusive or shared mode, or a semaphore. */
export function lockTarget(req: AcquireRequest): LockTarget {
  if (req.mode === 'semaphore') return semaphoreTarget(req.key, req.limit)
  return keyTarget(advisoryKey(req.key), req.mode === 'shared')
}

function keyTarget(key: bigint, shared: boolean): KeyTarget {
  const values = [key.toString()]
  const unlock = (st: LockStatements): BoundStatement =>
    shared
      ? { name: 'baton_unlock_shared', text: st.unlockShared, values }
      : { name: 'baton_unlock', text: st.unlock, values }
  return {
    mode: shared ? 'shared' : 'exclusive',
    claim: key,
    async attempt(session) {
      const st = session.statements
      const row = shared
        ? await session.row('baton_try_shared', st.tryShared, values)
        : await session.row('baton_try', st.tryLock, values)
      // columns: fence (text, null when taken), pid
      const fence = row?.[0] as string | null | undefined
      const pid = row?.[1] as number | undefined
      if (fence === null || fence === undefined) return { pid, grant: null }
      return { pid, grant: { fence: BigInt(fence), unlock: unlock(st) } }
    },
    wait(st) {
      const statement: WaitStatement = shared
        ? {
            name: 'baton_wait_shared',
            text: st.waitShared,
            values: (timeout) => [key.toString(), timeout],
            sweepName: 'baton_sweep_shared',
            sweepText: st.unlockSharedIfHeld,
            sweepValues: values,
          }
        : {
            name: 'baton_wait',
            text: st.waitLock,
            values: (timeout) => [key.toString(), timeout],
            sweepName: 'baton_sweep',
            sweepText: st.unlockIfHeld,
            sweepValues: values,
          }
      return { statement, unlock: unlock(st) }
    },
  }
}

function semaphoreTarget(key: string, limit: number | undefined): SemaphoreTarget {
  if (limit === undefined || !Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
    throw new RangeError(`semaphore limit must be an integer from 1 to ${MAX_LIMIT}, got ${limit}`)
  }
  const sem = semaphoreKey(key)
  const channel = semaphoreChannel(sem)
  return {
    mode: 'semaphore',
    claim: semaphoreClaim(sem),
    channel,
    async attempt(session) {
      const st = session.statements
      const row = await session.row('baton_sem_try', st.semaphoreTry, [sem, limit])
      // columns: held_limit, slot, fence, pid
      const pid = row?.[3] as number | undefined
      const heldLimit = row?.[0] as number | null | undefined
      if (heldLimit !== null && heldLimit !== undefined) {
        throw new LockLimitMismatchError(key, limit, heldLimit)
      }
      const slot = row?.[1] as number | null | undefined
      const fence = row?.[2] as string | null | undefined
      if (slot === null || slot === undefined || fence === null || fence === undefined) {
        return { pid, grant: null }
      }
      const unlock: BoundStatement = {
        name: 'baton_sem_unlock',
        text: st.semaphoreUnlock,
        values: [sem, limit, slot, channel],
      }
      return { pid, grant: { fence: BigInt(fence), unlock } }
    },
  }
}

/** Core's largest semaphore limit. */
const MAX_LIMIT = 10_000
