/** The head of a key's queue: the ticket to wake, and where its process listens (null: nowhere). */
export interface QueueHead {
  readonly seq: bigint
  readonly wake: string | null
}

/** Outcome of a release: whether a live lease was freed, and whom to wake. */
export interface Released {
  readonly freed: boolean
  readonly head: QueueHead | undefined
}

/** What a waiter sees before it tries: how long the holders have left, and whether a live ticket ahead of it waits. */
export interface QueueView {
  /** Ms until the holders in its way are gone at the latest; 0 when nothing is in its way or their leases expired. */
  readonly remainingMs: number
  /** True when a live ticket that goes before the caller's waits for the same key. */
  readonly behind: boolean
}

/** The two queues of a key: its lock's (exclusive and shared tickets) and its semaphore's. */
export type QueueName = 'lock' | 'semaphore'

/** The ticket of a request that is not queued: every live waiter is ahead of it. */
export const NOT_QUEUED = 9_223_372_036_854_775_807n

/**
 * A subquery for `'seq wake'` of the first live ticket of a key's queue; parameters key,
 * now. `shared`: only when that ticket is a shared one (the readers admitted together).
 */
export function headSql(queue: QueueName | 'shared'): string {
  const filter = queue === 'semaphore' ? "mode = 'semaphore'" : "mode <> 'semaphore'"
  const where = `WHERE key = ? AND expires_at > ? AND ${filter} ORDER BY seq LIMIT 1`
  if (queue !== 'shared') {
    return `(SELECT seq || ' ' || coalesce(wake, '') FROM baton_waiters ${where})`
  }
  return `(SELECT seq || ' ' || coalesce(wake, '') FROM (SELECT seq, wake, mode FROM baton_waiters ${where}) WHERE mode = 'shared')`
}

/** A `DELETE ... RETURNING expires_at, head` row as a `Released`. */
export function released(row: Record<string, unknown> | undefined, nowMs: number): Released {
  if (row === undefined) return NOTHING_RELEASED
  const { expires_at, head } = row as { expires_at: number | bigint; head: string | null }
  return { freed: Number(expires_at) > nowMs, head: parseHead(head) }
}

const NOTHING_RELEASED: Released = Object.freeze({ freed: false, head: undefined })

/** `'12 @addr'` (seq, space, wake address or nothing) as a queue head. */
export function parseHead(head: string | null | undefined): QueueHead | undefined {
  if (head === null || head === undefined) return undefined
  const space = head.indexOf(' ')
  const wake = head.slice(space + 1)
  return { seq: BigInt(head.slice(0, space)), wake: wake === '' ? null : wake }
}
