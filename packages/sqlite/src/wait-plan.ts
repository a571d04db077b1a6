import { type AcquireRequest, LockLimitMismatchError } from '@baton-lock/core/driver'
import type { LeaseStore, TicketMode } from './lease-store.js'
import type { QueueHead, QueueName, QueueView } from './queue-head.js'

/** What the driver keeps per held lease: which table holds it (`election`: exclusive with a stored value). */
export type HeldKind = TicketMode | 'election'

/** How one request of some mode tries, checks and queues: the parts of a wait that differ by mode. */
export interface WaitPlan {
  /** The mode of its ticket in `baton_waiters`. */
  readonly mode: TicketMode
  /** The queue it waits in (a semaphore's is apart from the lock's). */
  readonly queue: QueueName
  /** What the book records for its grant. */
  readonly kind: HeldKind
  /** A WAL read: whether to try now; throws `LockLimitMismatchError` for a semaphore held with another limit. */
  view(ticket: bigint): QueueView
  /** One grant attempt (a write transaction); the fence, or undefined. */
  grant(ticket: bigint): bigint | undefined
  /** Whom to wake after this request was granted from the queue (readers admitted together, the next permit). */
  cascade(): QueueHead | undefined
}

/** The plan of `req` on `store`, by its mode. */
export function waitPlan(store: LeaseStore, req: AcquireRequest): WaitPlan {
  const { key, owner, ttlMs } = req
  if (req.mode === 'shared') {
    return {
      mode: 'shared',
      queue: 'lock',
      kind: 'shared',
      view: (ticket) => store.shared.view(key, ticket),
      grant: (ticket) => store.shared.grant(key, owner, ttlMs, ticket),
      cascade: () => store.shared.cascade(key),
    }
  }
  if (req.mode === 'semaphore') {
    const limit = req.limit
    if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1) {
      throw new RangeError(`SqliteDriver: semaphore limit must be an integer >= 1, got ${limit}`)
    }
    return {
      mode: 'semaphore',
      queue: 'semaphore',
      kind: 'semaphore',
      view: (ticket) => {
        const view = store.permits.view(key, ticket, limit)
        if (view.heldLimit !== undefined) {
          throw new LockLimitMismatchError(key, limit, view.heldLimit)
        }
        return view
      },
      grant: (ticket) => store.permits.grant(key, owner, ttlMs, limit, ticket),
      cascade: () => store.permits.cascade(key),
    }
  }
  const value = req.value
  return {
    mode: 'exclusive',
    queue: 'lock',
    kind: value === undefined ? 'exclusive' : 'election',
    view: (ticket) => store.view(key, ticket),
    grant:
      value === undefined
        ? (ticket) => store.grant(key, owner, ttlMs, ticket)
        : (ticket) => store.grantWithValue(key, owner, ttlMs, ticket, value),
    cascade: () => undefined,
  }
}
