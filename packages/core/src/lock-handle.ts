/// <reference lib="esnext.disposable" preserve="true" />
// Published types name AsyncDisposable and Symbol.asyncDispose: this keeps them resolvable
// for apps that load neither @types/node nor the esnext lib (TypeScript 7 loads no @types by default).
import type { LockMode } from './driver.js'

/** Lifecycle of a handle: `held` -> (`suspended` <-> `held`) -> `lost` | `released`. `lost` and `released` are final. */
export type LockState = 'held' | 'suspended' | 'lost' | 'released'

/** A lock this process holds. Obtained from `Locker.acquire`, `tryAcquire` or `withLock`. */
export interface LockHandle extends AsyncDisposable {
  /** The user's key, without namespace. */
  readonly key: string
  /** Random 128-bit id of this acquisition, 32 lowercase hex characters. */
  readonly owner: string
  /** `exclusive`, `shared` (a read lock) or `semaphore` (one permit of `locker.semaphore(key)`). */
  readonly mode: LockMode
  /** Fencing token: strictly greater than every earlier holder's fence for this key (S3). Pass it to the guarded store. */
  readonly fence: bigint
  /** Aborts, with a `LockLostError` as `reason`, when exclusivity can no longer be guaranteed (N1-N3); never on a plain release. */
  readonly signal: AbortSignal
  /** Current lifecycle state; `suspended` while a renewal confirmation is overdue (N4). */
  readonly state: LockState
  /** Milliseconds of guaranteed validity left on the monotonic clock; 0 when lost or released. */
  validForMs(): number
  /** Synchronous clock check: false from `validUntil` on, even if no timer ran (S7), and for ever after loss (S6). */
  isValid(): boolean
  /** Throws the `LockLostError` (or `LockClosedError` after release) unless `isValid()`. */
  assertValid(): void
  /** Renews now for `ttlMs` (default: the acquisition's TTL); throws `LockLostError` if the backend no longer has it. */
  extend(ttlMs?: number): Promise<void>
  /** Releases the lock; waits for an in-flight renewal; idempotent; never throws for a lock already gone. */
  release(): Promise<void>
}
