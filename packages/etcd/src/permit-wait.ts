import { Backoff, sleep } from '@baton-lock/core/driver'
import type { QueuedKey } from './mutex-protocol.js'
import { type QueueOutcome, scope, stopped } from './queue-wait.js'
import type { PermitWindow, SemaphoreProtocol } from './semaphore-protocol.js'
import type { SharedLease } from './shared-lease.js'
import type { WatchHub } from './watch-hub.js'

/** What one wait for a semaphore permit needs. */
export interface PermitWait {
  readonly protocol: SemaphoreProtocol
  readonly watch: WatchHub
  readonly mine: QueuedKey
  readonly limit: number
  readonly lease: SharedLease
  /** Monotonic deadline of the wait (Infinity: none). */
  readonly deadlineMs: number
  /** Aborted when the wait must end early: the caller's signal, the driver's close. */
  readonly stops: readonly AbortSignal[]
  readonly recheckMs: number
  readonly call: () => { deadline: number }
}

/**
 * Waits until fewer than `limit` keys of the semaphore are older than one's own. Without a
 * herd: the first waiter (exactly `limit` older keys) watches the semaphore's deletes, since
 * any holder's release admits it; a waiter further back watches only the next older key,
 * for its deletion or its grant (a granted waiter puts its key, see `markGranted`), after
 * which it re-reads and may be the first waiter. Every decision comes from a read; events
 * only wake. Read errors are retried with backoff until the deadline.
 */
export async function waitForPermit(wait: PermitWait): Promise<QueueOutcome> {
  const { protocol, mine, lease, stops, limit } = wait
  const backoff = new Backoff({ minMs: 20, maxMs: 1_000 })
  const waitScope = scope(stops, lease, wait.deadlineMs)
  let lastError: unknown
  try {
    for (;;) {
      if (stopped(stops)) return { kind: 'aborted' }
      if (lease.dead.aborted) return { kind: 'restart' }
      if (waitScope.signal.aborted) {
        return lastError === undefined ? { kind: 'timeout' } : { kind: 'error', error: lastError }
      }
      let place: PermitWindow
      try {
        place = await protocol.window(mine, limit, wait.call())
      } catch (err) {
        lastError = err
        await sleep(backoff.next(wait.deadlineMs - performance.now()), waitScope.signal)
        continue
      }
      lastError = undefined
      backoff.reset()
      if (!place.mine) return { kind: 'restart' }
      if (place.older < limit) return { kind: 'granted' }
      const previous = place.previous
      if (place.older === limit || previous === undefined) {
        const range = mine.blockers[0]
        if (range === undefined) return { kind: 'restart' }
        await wait.watch.waitForEvent(
          { key: range.key, prefix: true },
          place.revision,
          () => protocol.olderAtLeast(mine, limit, wait.call()),
          wait.recheckMs,
          waitScope.signal,
        )
      } else {
        await wait.watch.waitForEvent(
          { key: previous.key, puts: true },
          place.revision,
          () => protocol.unchanged(previous, wait.call()),
          wait.recheckMs,
          waitScope.signal,
        )
      }
    }
  } finally {
    waitScope.dispose()
  }
}
