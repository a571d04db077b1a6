import { Backoff, sleep } from '@baton-lock/core/driver'
import type { MutexProtocol, Predecessor, QueuedKey } from './mutex-protocol.js'
import type { SharedLease } from './shared-lease.js'
import type { WatchHub } from './watch-hub.js'

/** How a wait in the queue ended. `restart`: one's own key or lease is gone; enqueue again. */
export type QueueOutcome =
  | { readonly kind: 'granted' | 'timeout' | 'aborted' | 'restart' }
  | { readonly kind: 'error'; readonly error: unknown }

/** What one wait needs. */
export interface QueueWait {
  readonly protocol: MutexProtocol
  readonly watch: WatchHub
  readonly mine: QueuedKey
  readonly lease: SharedLease
  /** Monotonic deadline of the wait (Infinity: none). */
  readonly deadlineMs: number
  /** Aborted when the wait must end early: the caller's signal, the driver's close. */
  readonly stops: readonly AbortSignal[]
  readonly recheckMs: number
  readonly call: () => { deadline: number }
}

/** Whether any of `stops` is aborted. */
export function stopped(stops: readonly AbortSignal[]): boolean {
  return stops.some((s) => s.aborted)
}

/** A signal aborted by any of `stops`, by `lease` dying, or at `deadlineMs`; dispose it after use. */
export function scope(
  stops: readonly AbortSignal[],
  lease: SharedLease,
  deadlineMs: number,
): { readonly signal: AbortSignal; dispose(): void } {
  const controller = new AbortController()
  const abort = () => controller.abort()
  const sources = [...stops, lease.dead]
  for (const source of sources) source.addEventListener('abort', abort, { once: true })
  const leftMs = deadlineMs - performance.now()
  const timer = Number.isFinite(leftMs) ? setTimeout(abort, Math.max(0, leftMs)) : undefined
  return {
    signal: controller.signal,
    dispose() {
      clearTimeout(timer)
      for (const source of sources) source.removeEventListener('abort', abort)
    },
  }
}

/**
 * Go's `waitDeletes` followed by its own-key check: read the key with the largest create
 * revision below one's own (the first read came with the enqueue, `mine.ahead`); if there
 * is none and one's own key is still there, the lock is ours (FIFO by create revision);
 * else watch only that key for its deletion (no herd) and read again. Watch events only
 * wake the waiter: every decision comes from a read, so a broken or compacted watch can
 * delay a grant but never cause one. Read errors are retried with backoff until the
 * deadline; the last one is returned if the wait ends on it.
 */
export async function waitInQueue(wait: QueueWait): Promise<QueueOutcome> {
  const { protocol, mine, lease, stops } = wait
  const backoff = new Backoff({ minMs: 20, maxMs: 1_000 })
  const waitScope = scope(stops, lease, wait.deadlineMs)
  let lastError: unknown
  // The first read came with the enqueue (`mine.ahead`) when it could.
  let ahead = mine.ahead
  try {
    for (;;) {
      if (stopped(stops)) return { kind: 'aborted' }
      if (lease.dead.aborted) return { kind: 'restart' }
      if (waitScope.signal.aborted) {
        return lastError === undefined ? { kind: 'timeout' } : { kind: 'error', error: lastError }
      }
      let found: Predecessor
      if (ahead !== undefined) {
        found = ahead
        ahead = undefined
      } else {
        try {
          found = await protocol.predecessor(mine, wait.call())
        } catch (err) {
          lastError = err
          await sleep(backoff.next(wait.deadlineMs - performance.now()), waitScope.signal)
          continue
        }
      }
      lastError = undefined
      backoff.reset()
      if (!found.mine) return { kind: 'restart' }
      const before = found.kv
      if (before === undefined) return { kind: 'granted' }
      await wait.watch.waitForDelete(
        { key: before.key, createRevision: before.create_revision },
        found.revision,
        () => protocol.exists(before.key, before.create_revision, wait.call()),
        wait.recheckMs,
        waitScope.signal,
      )
    }
  } finally {
    waitScope.dispose()
  }
}
