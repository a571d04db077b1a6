import { toBackendError } from './backend-error.js'
import type { Clock, TimerHandle } from './clock.js'
import type { AcquireRequest, DriverLease, LockDriver, LockMode } from './driver.js'
import {
  isLockError,
  LockDeadlockError,
  type LockError,
  LockLimitMismatchError,
  LockTimeoutError,
} from './errors.js'
import { giveBackKey } from './key-queue.js'

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

/**
 * One acquire in progress: its driver calls, its deadline, and the reason it stopped
 * early (timeout, caller abort, close). Core itself listens through a plain callback; the
 * AbortSignal is made only when the attempt reaches a driver call or a wait in process.
 */
export class Attempt {
  /** The user's key, for errors and events. */
  readonly key: string
  readonly waitMs: number
  readonly #target: AttemptTarget
  readonly #driver: LockDriver
  readonly #clock: Clock
  #reason: LockError | undefined
  #controller: AbortController | undefined
  #listener: ((reason: LockError) => void) | undefined
  #timer: TimerHandle | undefined
  /** Cleanups of driver calls given up on; the key slot is kept until they settle. */
  #abandoned: Array<Promise<unknown>> | undefined

  constructor(target: AttemptTarget, driver: LockDriver, clock: Clock) {
    this.key = target.key
    this.waitMs = target.waitMs
    this.#target = target
    this.#driver = driver
    this.#clock = clock
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
    this.clearDeadline()
    if (!Number.isFinite(atMs)) return
    const timeout = () => this.stop(new LockTimeoutError(this.key, this.waitMs))
    this.#timer = this.#clock.setTimeout(timeout, atMs - this.#clock.now())
  }

  clearDeadline(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer)
    this.#timer = undefined
  }

  /** Stops the attempt; the first reason wins. */
  stop(reason: LockError): void {
    if (this.#reason !== undefined) return
    this.#reason = reason
    this.clearDeadline()
    this.#controller?.abort(reason)
    const listener = this.#listener
    this.#listener = undefined
    listener?.(reason)
  }

  /** Settles like `promise`, or rejects with the stop reason as soon as the attempt stops. */
  race<T>(promise: Promise<T>): Promise<T> {
    if (this.#reason !== undefined) return Promise.reject(this.#reason)
    return new Promise<T>((resolve, reject) => {
      this.#listener = reject
      promise.then(
        (value) => {
          this.#listener = undefined
          resolve(value)
        },
        (err: unknown) => {
          this.#listener = undefined
          reject(err)
        },
      )
    })
  }

  /**
   * One `driver.acquire` raced against the attempt's stop (timeout, caller abort, close).
   * When the attempt stops first, the request's signal is aborted, and a grant that still
   * arrives is released in the background and never exposed (S4). `onContended`, when
   * given, is passed to the driver and runs at most once, and only while the attempt runs.
   */
  async callDriver(waitMs: number, onContended?: () => void): Promise<DriverLease | null> {
    if (this.#reason !== undefined) throw this.#reason
    const { fullKey, owner, ttlMs, mode, limit, value } = this.#target
    // The signal is made only if the driver reads it: a one-shot attempt usually does not.
    const attempt = this
    const request: AcquireRequest = {
      key: fullKey,
      owner,
      ttlMs,
      waitMs,
      mode,
      ...(limit === undefined ? {} : { limit }),
      ...(value === undefined ? {} : { value }),
      get signal() {
        return attempt.signal
      },
      ...(onContended === undefined ? {} : { onContended: this.#once(onContended) }),
    }
    let call: Promise<DriverLease | null>
    try {
      call = this.#driver.acquire(request)
    } catch (err) {
      call = Promise.reject(err)
    }
    let lease: DriverLease | null
    try {
      lease = await this.race(call)
    } catch (err) {
      if (this.#reason === undefined) {
        // The call itself failed: its outcome is unknown to the driver too.
        if (this.#driver.abandon !== undefined) this.#keepSlotFor(this.#driver.abandon(request))
        throw this.#typed(err)
      }
      this.#abandon(call, request)
      throw this.#reason
    }
    if (this.#reason !== undefined) {
      // Granted just as the deadline, the caller's abort or close struck: never expose it.
      this.#abandon(call, request)
      throw this.#reason
    }
    return lease
  }

  /**
   * Frees the in-process key slot, but only once every abandoned driver call has settled
   * and its late grant is released: on a session backend the next same-key acquire could
   * otherwise re-enter (S5). Not awaited by close(): a hung backend may never answer.
   */
  giveBackSlot(): void {
    const { fullKey, mode } = this.#target
    if (!takesSlot(mode)) return
    if (this.#abandoned === undefined) giveBackKey(this.#driver, fullKey)
    else void Promise.all(this.#abandoned).then(() => giveBackKey(this.#driver, fullKey))
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

  /** `callback` for the driver: runs on the first call only, and not once the attempt stopped. */
  #once(callback: () => void): () => void {
    let called = false
    return () => {
      if (called || this.#reason !== undefined) return
      called = true
      callback()
    }
  }

  /** Keeps the key slot until `cleanup` settles (see `giveBackSlot`). */
  #keepSlotFor(cleanup: Promise<unknown>): void {
    this.#abandoned ??= []
    this.#abandoned.push(cleanup.catch(() => false))
  }
}
