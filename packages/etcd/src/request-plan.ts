import type { AcquireRequest } from '@baton-lock/core/driver'
import { readerKey, semaphoreName } from './etcd-key.js'
import type { MutexProtocol, QueuedKey } from './mutex-protocol.js'
import { waitForPermit } from './permit-wait.js'
import { type QueueOutcome, waitInQueue } from './queue-wait.js'
import { permitValue, type SemaphoreProtocol } from './semaphore-protocol.js'
import type { SharedLease } from './shared-lease.js'
import type { WatchHub } from './watch-hub.js'

/** What the plans need from the driver. */
export interface PlanDeps {
  readonly mutex: MutexProtocol
  readonly semaphores: SemaphoreProtocol
  readonly watch: WatchHub
  readonly recheckMs: number
  readonly call: () => { deadline: number }
}

/** A queued key, with the limit the semaphore's oldest key declares (semaphores only). */
export type Queued = QueuedKey & { readonly heldLimit?: number | undefined }

/** How one request of one mode queues, waits and is granted. */
export interface RequestPlan {
  /**
   * The name the driver's clean-ups of this request's key are serialised under: the lock
   * name for the exclusive key (one per lease, reused by the next acquire of the name),
   * the key itself for keys unique to the acquire (reader and permit keys).
   */
  readonly cleanupName: string
  /** The key the request puts on `leaseId`. */
  key(leaseId: string): Buffer
  /** Puts the key (if absent) and tells whether it holds at once. */
  enqueue(lease: SharedLease): Promise<Queued>
  /** Waits in the queue until granted, timed out, aborted or the key is gone. */
  wait(
    mine: QueuedKey,
    lease: SharedLease,
    deadlineMs: number,
    stops: readonly AbortSignal[],
  ): Promise<QueueOutcome>
  /**
   * The fence of a grant (after a wait when `waited`); undefined when the key is gone. A
   * plain bigint when no request is needed (the create revision).
   */
  fence(mine: QueuedKey, waited: boolean): bigint | Promise<bigint | undefined>
}

/**
 * The plan of `req` on lock name `name`. Exclusive: Go's `concurrency.Mutex` (and
 * `Election`) key `NAME/<lease hex>` with the owner id or the election value. Shared: a
 * reader `NAME/read/<owner>` that waits only for older non-reader keys. Semaphore: a permit
 * `NAME%sem/<owner>` admitted while fewer than `limit` keys are older. Fences: the key's
 * create revision for both lock modes; for a permit granted after a wait, the revision of
 * the put that marks it granted.
 */
export function requestPlan(deps: PlanDeps, req: AcquireRequest, name: string): RequestPlan {
  const { mutex, semaphores, watch, recheckMs, call } = deps
  if (req.mode === 'semaphore') {
    const limit = req.limit ?? 1
    const sem = semaphoreName(name)
    const range = semaphores.range(sem)
    const key = semaphores.key(sem, req.owner)
    const value = permitValue(req.owner, limit)
    return {
      cleanupName: key.toString(),
      key: () => key,
      enqueue: (lease) => semaphores.enqueue(range, key, value, lease.id, limit, call()),
      wait: (mine, lease, deadlineMs, stops) =>
        waitForPermit({
          protocol: semaphores,
          watch,
          mine,
          limit,
          lease,
          deadlineMs,
          stops,
          recheckMs,
          call,
        }),
      fence(mine, waited) {
        if (!waited) return BigInt(mine.createRevision)
        return semaphores
          .markGranted(mine, call())
          .then((revision) => (revision === undefined ? undefined : BigInt(revision)))
      },
    }
  }
  const shared = req.mode === 'shared'
  const blockers = mutex.blockers(name, shared)
  const value = Buffer.from(shared ? req.owner : (req.value ?? req.owner))
  const readKey = shared ? Buffer.from(readerKey(name, req.owner)) : undefined
  const keyOf = (leaseId: string) => readKey ?? mutex.waiterKey(name, leaseId)
  return {
    cleanupName: readKey?.toString() ?? name,
    key: keyOf,
    enqueue: (lease) =>
      mutex.enqueue({ key: keyOf(lease.id), value, leaseId: lease.id, blockers }, call()),
    wait: (mine, lease, deadlineMs, stops) =>
      waitInQueue({ protocol: mutex, watch, mine, lease, deadlineMs, stops, recheckMs, call }),
    fence: (mine) => BigInt(mine.createRevision),
  }
}
