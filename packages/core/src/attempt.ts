import { toBackendError } from './backend-error.js'
import type { AcquireRequest, DriverLease, LockDriver, LockMode } from './driver.js'
import {
  isLockError,
  LockDeadlockError,
  type LockError,
  LockLimitMismatchError,
  LockTimeoutError,
} from './errors.js'
import { giveBackKey, type KeySlots } from './key-queue.js'
import type { DueEntry, TimerQueue } from './timer-queue.js'

function noop(): void {}

/** What one acquire asks for: the user's key, the namespaced key and the acquisition's owner id. */
export interface AttemptTarget {
  readonly key: string
  readonly fullKey: string
  readonly owner: string
  readonly ttlMs: number
  readonly waitMs: number
  readonly mode: LockMode
  /** Semaphore requests only. */
  readonly limit?: number
  /** The holder's advertised value (elections). */
  readonly value?: string
}

/**
 * Whether an acquire in `mode` takes the key's in-process slot (S5): only the exclusive
 * mode does. Shared holders and semaphore permits are many owners of one key by design,
 * each with its own owner id, so the driver sees them all.
 */
export function takesSlot(mode: LockMode): boolean {
  return mode === 'exclusive'
}

/** The `AcquireRequest` of one driver call; `signal` is read through the attempt, so it is made only if the driver reads it. */
class AttemptRequest implements AcquireRequest {
  readonly key: string
  readonly owner: string
  readonly ttlMs: number
  readonly waitMs: number
  readonly mode: LockMode
  // Own properties only when set, as the contract has them: absent, not undefined.
  declare readonly limit?: number
  declare readonly value?: string
  declare readonly onContended?: () => void
  declare readonly signal: AbortSignal
  readonly onAbort: (listener: (reason: unknown) => void) => () => void
  readonly #attempt: Attempt

  // An own, enumerable accessor like a literal's `get signal()`, so a driver wrapper's
  // `{ ...req, waitMs: 0 }` still carries it (a class getter would not be copied); one
  // shared descriptor costs a fraction of a literal with a getter.
  static readonly #signalProperty: PropertyDescriptor = {
    get(this: AttemptRequest): AbortSignal {
      return this.#attempt.signal
    },
    enumerable: true,
    configurable: true,
  }

  constructor(attempt: Attempt, target: AttemptTarget, waitMs: number, queued: boolean) {
    this.key = target.fullKey
    this.owner = target.owner
    this.ttlMs = target.ttlMs
    this.waitMs = waitMs
    this.mode = target.mode
    this.#attempt = attempt
    this.onAbort = (listener) => attempt.onStop(listener)
    const writable = this as { limit?: number; value?: string; onContended?: () => void }
    if (target.limit !== undefined) writable.limit = target.limit
    if (target.value !== undefined) writable.value = target.value
    Object.defineProperty(this, 'signal', AttemptRequest.#signalProperty)
    if (queued) writable.onContended = () => attempt.contended()
  }
}

/**
 * One acquire in progress: its driver calls, its deadline (an entry in the Locker's timer
 * queue, not a timer of its own), and the reason it stopped early (timeout, caller abort,
 * close). Core itself listens through a plain callback; the AbortSignal is made only when
 * the attempt reaches a driver call that reads it or a wait in process.
 */
export class Attempt implements DueEntry {
  /** The user's key, for errors and events. */
  readonly key: string
  readonly waitMs: number
  readonly #target: AttemptTarget
  readonly #driver: LockDriver
  readonly #timers: TimerQueue
  readonly #onContended: ((target: AttemptTarget) => void) | undefined
  #reason: LockError | undefined
  #controller: AbortController | undefined
  /** Rejects the driver call in flight at once when the attempt stops. */
  #listener: ((reason: LockError) => void) | undefined
  /** The driver call in flight and its request, abandoned if the attempt stops first. */
  #call: Promise<DriverLease | null> | undefined
  #request: AcquireRequest | undefined
  #contendedCalled = false
  /** Drivers' `onAbort` listeners, called on stop; a removed one leaves an undefined slot. */
  #stopListeners: Array<((reason: unknown) => void) | undefined> | undefined
  /** Cleanups of driver calls given up on; the key slot is kept until they settle. */
  #abandoned: Array<Promise<unknown>> | undefined
  dueAtMs = 0
  dueIndex = -1
  dueSeq = 0

  /** `onContended` runs when a queued driver call reports contention (see `callDriver`). */
  constructor(
    target: AttemptTarget,
    driver: LockDriver,
    timers: TimerQueue,
    onContended?: (target: AttemptTarget) => void,
  ) {
    this.key = target.key
    this.waitMs = target.waitMs
    this.#target = target
    this.#driver = driver
    this.#timers = timers
    this.#onContended = onContended
  }

  /**
   * True when this acquire makes one driver call with the whole wait, without a `waitMs: 0`
   * attempt first: it may wait, and the driver queues server-side with its first request
   * (`capabilities.queuedWait`). The driver then reports contention via `onContended`.
   */
  get queues(): boolean {
    return this.waitMs > 0 && this.#driver.capabilities.queuedWait
  }

  /** Why the attempt stopped, or undefined while it runs. */
  get reason(): LockError | undefined {
    return this.#reason
  }

  /** Aborts with the stop reason; handed to the driver as `AcquireRequest.signal`. */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController()
      if (this.#reason !== undefined) this.#controller.abort(this.#reason)
    }
    return this.#controller.signal
  }

  /** Stops with a `LockTimeoutError` at monotonic time `atMs` (replacing any earlier deadline). */
  setDeadline(atMs: number): void {
    if (Number.isFinite(atMs)) this.#timers.schedule(this, atMs)
    else this.#timers.cancel(this)
  }

  clearDeadline(): void {
    this.#timers.cancel(this)
  }

  /** The timer queue's call: the deadline is now. */
  onDue(): void {
    this.stop(new LockTimeoutError(this.key, this.waitMs))
  }

  /**
   * Calls `listener` with the stop reason when the attempt stops (at once when it has),
   * until the returned function is called: `AcquireRequest.onAbort`.
   */
  onStop(listener: (reason: unknown) => void): () => void {
    if (this.#reason !== undefined) {
      listener(this.#reason)
      return noop
    }
    this.#stopListeners ??= []
    const listeners = this.#stopListeners
    const index = listeners.push(listener) - 1
    return () => {
      if (listeners[index] === listener) listeners[index] = undefined
    }
  }

  /** Stops the attempt; the first reason wins. */
  stop(reason: LockError): void {
    if (this.#reason !== undefined) return
    this.#reason = reason
    this.clearDeadline()
    this.#controller?.abort(reason)
    const stopListeners = this.#stopListeners
    this.#stopListeners = undefined
    if (stopListeners !== undefined) for (const listener of stopListeners) listener?.(reason)
    const call = this.#call
    if (call !== undefined) {
      this.#call = undefined
      this.#abandon(call, this.#request as AcquireRequest)
    }
    const listener = this.#listener
    this.#listener = undefined
    listener?.(reason)
  }

  /**
   * One `driver.acquire` raced against the attempt's stop (timeout, caller abort, close).
   * When the attempt stops first, the request's signal is aborted, and a grant that still
   * arrives is released in the background and never exposed (S4). With `queued`, the
   * request carries `onContended`, which reports contention at most once, and only while
   * the attempt runs.
   */
  callDriver(waitMs: number, queued = false): Promise<DriverLease | null> {
    if (this.#reason !== undefined) return Promise.reject(this.#reason)
    const request = new AttemptRequest(this, this.#target, waitMs, queued)
    let call: Promise<DriverLease | null>
    try {
      call = this.#driver.acquire(request)
    } catch (err) {
      call = Promise.reject(err)
    }
    this.#call = call
    this.#request = request
    return new Promise<DriverLease | null>((resolve, reject) => {
      this.#listener = reject
      call.then(
        (lease) => {
          // After a stop, `stop` rejected this promise and abandoned the call (S4).
          if (this.#call !== call) return
          this.#settled()
          resolve(lease)
        },
        (err: unknown) => {
          if (this.#call !== call) return
          this.#settled()
          // The call itself failed: its outcome is unknown to the driver too.
          if (this.#driver.abandon !== undefined) this.#keepSlotFor(this.#driver.abandon(request))
          reject(this.#typed(err))
        },
      )
    })
  }

  /**
   * A grant that arrived as the attempt stopped (after `callDriver` resolved, before the
   * Locker exposed it): released in the background, never exposed (S4).
   */
  releaseLate(lease: DriverLease): void {
    const driver = this.#driver
    this.#keepSlotFor(Promise.resolve().then(() => driver.release(lease)))
  }

  /** The driver reported contention for the queued call in flight. */
  contended(): void {
    if (this.#contendedCalled || this.#reason !== undefined) return
    this.#contendedCalled = true
    this.#onContended?.(this.#target)
  }

  /**
   * Frees the in-process key slot, but only once every abandoned driver call has settled
   * and its late grant is released: on a session backend the next same-key acquire could
   * otherwise re-enter (S5). Not awaited by close(): a hung backend may never answer.
   */
  giveBackSlot(slots: KeySlots): void {
    const { fullKey, mode } = this.#target
    if (!takesSlot(mode)) return
    if (this.#abandoned === undefined) giveBackKey(slots, fullKey)
    else void Promise.all(this.#abandoned).then(() => giveBackKey(slots, fullKey))
  }

  #settled(): void {
    this.#call = undefined
    this.#request = undefined
    this.#listener = undefined
  }

  /**
   * The one late-grant clean-up (S4): releases whatever an abandoned call grants, and asks
   * the driver to `abandon` a call that rejected (its outcome unknown). Never rejects.
   */
  #abandon(call: Promise<DriverLease | null>, request: AcquireRequest): void {
    const driver = this.#driver
    this.#keepSlotFor(
      call.then(
        (lease) => (lease === null ? false : driver.release(lease)),
        () => driver.abandon?.(request),
      ),
    )
  }

  /**
   * The error core raises for a failed driver call: the typed errors a driver may throw
   * (deadlock, limit mismatch) renamed to the user's key, anything else a backend error.
   */
  #typed(err: unknown): Error {
    if (isLockError(err, 'LOCK_LIMIT_MISMATCH')) {
      return new LockLimitMismatchError(this.key, err.limit, err.heldLimit)
    }
    if (isLockError(err, 'LOCK_DEADLOCK')) return new LockDeadlockError(err.driver, this.key, err)
    return toBackendError(this.#driver.name, err, this.key)
  }

  /** Keeps the key slot until `cleanup` settles (see `giveBackSlot`). */
  #keepSlotFor(cleanup: Promise<unknown>): void {
    this.#abandoned ??= []
    this.#abandoned.push(cleanup.catch(() => false))
  }
}
