import type { AcquireRequest, LockInfo } from '@baton-lock/core/driver'
import type { FenceTable } from './fence-table.js'
import type { LockSession } from './lock-session.js'
import type { SemaphoreNames } from './mysql-key.js'
import { countHeld, limitTag, readSemaphoreRow, trySlots } from './semaphore-slots.js'
import { waitOnServer } from './server-wait.js'
import { deadlockOr } from './session-errors.js'
import type { SessionPool } from './session-pool.js'

/** A semaphore slot a session was granted: what the driver records as the permit's lease. */
export interface SlotGranted {
  readonly session: LockSession
  /** The slot's `GET_LOCK` name. */
  readonly name: string
  readonly fence: bigint
  /** Monotonic time taken just before the granting statement was sent. */
  readonly sentAtMs: number
}

/**
 * One try of every slot of the semaphore on a session that holds none of its slots (the
 * session claims the semaphore's base name, so `GET_LOCK`'s re-entry can never hand a
 * slot out twice); the claim stays only when a slot was granted.
 */
export async function tryPermit(
  pool: SessionPool,
  fences: FenceTable,
  req: AcquireRequest,
  names: SemaphoreNames,
  limit: number,
  signal: AbortSignal,
): Promise<SlotGranted | null> {
  const session =
    pool.pickForKey(names.base, req.ttlMs) ?? (await pool.forKey(names.base, req.ttlMs, signal))
  if (session === undefined) return null
  let granted: SlotGranted | null = null
  try {
    const sentAtMs = performance.now()
    const got = await trySlots(session, names, req.key, limit, fences)
    if (got !== null) granted = { session, name: names.slot(got.slot), fence: got.fence, sentAtMs }
    return granted
  } finally {
    if (granted === null) session.claimed.delete(names.base)
  }
}

/**
 * A server-side wait of up to `waitMs` on slot `slot` alone, on `session` (marked waiting,
 * holding nothing, with the base name claimed), and the semaphore's fence bump when it is
 * granted; cancelled with `KILL QUERY` when `signal` aborts (see server-wait.ts).
 */
export async function waitOnSlot(
  pool: SessionPool,
  session: LockSession,
  req: AcquireRequest,
  names: SemaphoreNames,
  slot: number,
  limit: number,
  waitMs: number,
  signal: AbortSignal,
): Promise<SlotGranted | null> {
  let granted: SlotGranted | null = null
  const name = names.slot(slot)
  try {
    const sentAtMs = performance.now()
    const tagged = { key: req.key, owner: limitTag(limit) }
    const deadlineMs = sentAtMs + waitMs
    const { fence } = await waitOnServer(
      session,
      pool,
      name,
      tagged,
      deadlineMs,
      signal,
      names.base,
    )
    if (fence !== null) granted = { session, name, fence, sentAtMs }
    return granted
  } catch (err) {
    throw deadlockOr(err, req.key)
  } finally {
    session.waiting = false
    if (granted === null) session.claimed.delete(names.base)
  }
}

/** Permits in use: the slots of the limit the last grant recorded that some connection holds. */
export async function inspectSemaphore(
  session: LockSession,
  names: SemaphoreNames,
): Promise<LockInfo | null> {
  const row = await readSemaphoreRow(session, names)
  if (row?.limit === undefined) return null
  const holders = await countHeld(session, names, row.limit, false)
  if (holders === 0) return null
  return { held: true, mode: 'semaphore', holders, limit: row.limit, fence: row.fence }
}
