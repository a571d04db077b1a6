/// <reference lib="esnext.disposable" preserve="true" />
// Published types name AsyncDisposable and Symbol.asyncDispose: this keeps them resolvable
// for apps that load neither @types/node nor the esnext lib (TypeScript 7 loads no @types by default).
import { hostname } from 'node:os'
import { Attempt, type AttemptTarget, takesSlot } from './attempt.js'
import { toBackendError } from './backend-error.js'
import { type Clock, systemClock } from './clock.js'
import type { DriverLease, LockDriver, LockInfo, LockMode } from './driver.js'
import { Election } from './election.js'
import {
  LockAbortedError,
  LockClosedError,
  LockTimeoutError,
  LockUnsupportedError,
} from './errors.js'
import type { HandleHost, HostedLock } from './handle-host.js'
import { HandleView } from './handle-view.js'
import { HeldLock } from './held-lock.js'
import {
  giveBackKey,
  type KeySlots,
  keySlotsOf,
  tryTakeKey,
  waitForKey,
  watchKeyWaiters,
} from './key-queue.js'
import type { LockEvent } from './lock-event.js'
import type { LockHandle } from './lock-handle.js'
import { acquireAllKeys, type LockSet } from './lock-set.js'
import type {
  AcquireOptions,
  ElectionOptions,
  LeadOptions,
  LockerOptions,
  SemaphoreOptions,
} from './locker-options.js'
import { newOwnerId } from './owner-id.js'
import { Renewer } from './renewer.js'
import { runAndRelease } from './run-and-release.js'
import { Semaphore } from './semaphore.js'
import { TimerQueue } from './timer-queue.js'
import {
  checkKey,
  checkKeyList,
  checkLimit,
  checkMode,
  checkNamespace,
  checkNamespacedKey,
  checkTtl,
  checkValue,
  checkWait,
} from './validate.js'

/** What kind of grant an acquire asks the driver for, beyond key, TTL and wait. */
interface GrantKind {
  readonly mode: LockMode
  readonly limit?: number
  readonly value?: string
}

const EXCLUSIVE: GrantKind = { mode: 'exclusive' }
const SHARED: GrantKind = { mode: 'shared' }

/** The options of a call made without any: one frozen object, not one per call. */
const NO_OPTIONS: AcquireOptions = Object.freeze({})

/** What an election candidate advertises unless told: `<hostname>:<pid>`. */
function defaultCandidateValue(): string {
  return `${hostname()}:${process.pid}`
}

/**
 * How long past `waitMs` core lets a driver call run before it gives up on its own (L3):
 * the driver normally answers null at `waitMs`; this is for a backend that hangs. A single
 * attempt (`waitMs: 0`) is bounded by `attemptTimeoutMs` instead: it needs a round trip.
 */
const HARD_DEADLINE_GRACE_MS = 50

/**
 * The API applications use: a thin lifecycle wrapper over any `LockDriver`. It validates
 * arguments before any backend call, queues same-key acquires in process (S5), owns every
 * deadline and abort (L3), renews held locks, all on one timer, maps driver errors to
 * typed ones, and leaves nothing behind after `close()` (H1).
 */
export class Locker implements AsyncDisposable {
  /** The driver this Locker wraps. */
  readonly driver: LockDriver
  readonly #clock: Clock
  readonly #namespace: string
  readonly #ttlMs: number
  /** The driver's `ttlResolutionMs` that `#ttlMs` was checked against. */
  readonly #ttlResolutionMs: number
  readonly #waitMs: number
  readonly #renew: boolean
  readonly #attemptTimeoutMs: number
  readonly #closeDriver: boolean
  readonly #onEvent: ((event: LockEvent) => void) | undefined
  readonly #host: HandleHost
  /** The Locker's one timer: acquire deadlines and the renewer's wake-ups. */
  readonly #timers: TimerQueue
  readonly #renewer: Renewer
  /** The driver's in-process key slots (S5), shared with other Lockers over the same driver. */
  readonly #slots: KeySlots
  readonly #onContended: ((target: AttemptTarget) => void) | undefined
  readonly #handles = new Set<HostedLock>()
  /** Every acquire in progress, in process or in the driver; close() stops them. */
  readonly #attempts = new Set<Attempt>()
  #attemptsDrained: (() => void) | undefined
  /** Renewal batches in flight; close() waits for them. */
  readonly #renewals = new Set<Promise<unknown>>()
  #closing: Promise<void> | undefined

  constructor(driver: LockDriver, options: LockerOptions = {}) {
    const namespace = options.namespace ?? ''
    checkNamespace(namespace)
    const ttlMs = options.ttlMs ?? 30_000
    checkTtl(ttlMs, driver.capabilities.ttlResolutionMs, 'options.ttlMs')
    const waitMs = options.waitMs ?? 30_000
    checkWait(waitMs, 'options.waitMs')
    const attemptTimeoutMs = options.attemptTimeoutMs ?? 5_000
    checkWait(attemptTimeoutMs, 'options.attemptTimeoutMs')
    if (attemptTimeoutMs < 1) {
      throw new RangeError(`options.attemptTimeoutMs must be at least 1, got ${attemptTimeoutMs}`)
    }
    if (options.onEvent !== undefined && typeof options.onEvent !== 'function') {
      throw new TypeError('options.onEvent must be a function')
    }
    this.driver = driver
    this.#clock = options.clock ?? systemClock
    this.#namespace = namespace
    this.#ttlMs = ttlMs
    this.#ttlResolutionMs = driver.capabilities.ttlResolutionMs
    this.#waitMs = waitMs
    this.#renew = options.renew ?? true
    this.#attemptTimeoutMs = attemptTimeoutMs
    this.#closeDriver = options.closeDriver ?? true
    this.#onEvent = options.onEvent
    this.#timers = new TimerQueue(this.#clock)
    this.#renewer = new Renewer(this.#clock, driver, this.#timers, (batch) =>
      this.#trackRenewal(batch),
    )
    const slots = keySlotsOf(driver)
    this.#slots = slots
    this.#onContended =
      options.onEvent === undefined
        ? undefined
        : (target) => this.#emitContended(target.key, target.mode, target.owner)
    this.#host = {
      driver,
      clock: this.#clock,
      listening: options.onEvent !== undefined,
      renewer: this.#renewer,
      emit: (event) => this.#emit(event),
      finish: (handle) => {
        this.#handles.delete(handle)
        if (handle.slotKey !== undefined) giveBackKey(slots, handle.slotKey)
      },
    }
  }

  /** Waits up to `waitMs` for the key; throws `LockTimeoutError`, `LockAbortedError` or `LockClosedError`. */
  acquire(key: string, options: AcquireOptions = NO_OPTIONS): Promise<LockHandle> {
    try {
      return this.#acquire(key, options, false, this.#kindOf(options)) as Promise<LockHandle>
    } catch (err) {
      return Promise.reject(err)
    }
  }

  /** One attempt: the handle, or null when someone else holds the key. */
  tryAcquire(
    key: string,
    options: Omit<AcquireOptions, 'waitMs'> = NO_OPTIONS,
  ): Promise<LockHandle | null> {
    try {
      // A try is one attempt whatever `options.waitMs` says (see #acquire).
      return this.#acquire(key, options, true, this.#kindOf(options))
    } catch (err) {
      return Promise.reject(err)
    }
  }

  /** Acquires, runs `fn` with the handle (renewed meanwhile), and releases even when `fn` throws. */
  async withLock<T>(
    key: string,
    fn: (lock: LockHandle) => T | Promise<T>,
    options: AcquireOptions = {},
  ): Promise<T> {
    if (typeof fn !== 'function') throw new TypeError(`withLock needs a function, got ${typeof fn}`)
    return runAndRelease(await this.acquire(key, options), fn)
  }

  /** What the backend can tell about `key`'s lock (either mode); `{ held: false }` when free. */
  inspect(key: string): Promise<LockInfo> {
    return this.#inspect(key, 'exclusive')
  }

  /**
   * A counting semaphore: at most `limit` holders of `key` at once, each with an ordinary
   * `LockHandle` (fence, signal, renewal, release). A semaphore is a resource of its own:
   * `semaphore('jobs')` never blocks `acquire('jobs')`. Needs `capabilities.semaphores`.
   */
  semaphore(key: string, options: SemaphoreOptions): Semaphore {
    this.#assertOpen(key)
    checkKey(key)
    if (typeof options !== 'object' || options === null) {
      throw new TypeError('semaphore needs options with a limit, e.g. { limit: 5 }')
    }
    checkLimit(options.limit)
    this.#fullKey(key)
    if (!this.driver.capabilities.semaphores) {
      throw new LockUnsupportedError(this.driver.name, 'semaphores')
    }
    const kind: GrantKind = { mode: 'semaphore', limit: options.limit }
    return new Semaphore(key, options.limit, {
      acquire: (opts, isTry) => this.#acquire(key, opts, isTry, kind),
      inspect: () => this.#inspect(key, 'semaphore'),
    })
  }

  /**
   * Leader election on `key` over any driver: the leader holds the key's exclusive lock,
   * with `value` stored where the backend has room. On etcd and ZooKeeper the lock's
   * layout is the native recipe's (etcd `concurrency.Election`, Curator `LeaderSelector`),
   * so Go and Java participants join the same election.
   */
  election(key: string, options: ElectionOptions = {}): Election {
    this.#assertOpen(key)
    checkKey(key)
    this.#fullKey(key)
    if (typeof options !== 'object' || options === null) {
      throw new TypeError('election options must be an object')
    }
    const value = options.value ?? defaultCandidateValue()
    checkValue(value)
    const ttlMs = options.ttlMs ?? this.#ttlMs
    checkTtl(ttlMs, this.driver.capabilities.ttlResolutionMs)
    const kind: GrantKind = { mode: 'exclusive', value }
    return new Election(key, value, {
      acquire: (opts) => this.#acquire(key, { ...opts, ttlMs }, false, kind) as Promise<LockHandle>,
      inspect: () => this.#inspect(key, 'exclusive'),
    })
  }

  /**
   * Campaigns for `key` and runs `fn` with the leadership while it leads; see
   * `Election.lead`. Shorthand for `locker.election(key, options).lead(fn, options)`.
   */
  elect(
    key: string,
    fn: (leadership: LockHandle, signal: AbortSignal) => unknown,
    options: ElectionOptions & LeadOptions = {},
  ): Promise<void> {
    try {
      return this.election(key, options).lead(fn, options)
    } catch (err) {
      return Promise.reject(err)
    }
  }

  /**
   * Takes every key of `keys`, all or nothing within `waitMs`, in one canonical order (so
   * two callers with overlapping sets never deadlock each other). On failure the keys taken
   * so far are released and the error is the one that stopped it (`LockTimeoutError`,
   * `LockDeadlockError`, ...).
   */
  acquireAll(keys: readonly string[], options: AcquireOptions = {}): Promise<LockSet> {
    try {
      this.#assertOpen()
      checkKeyList(keys)
      for (const key of keys) this.#fullKey(key)
      const kind = this.#kindOf(options)
      const waitMs = options.waitMs ?? this.#waitMs
      checkWait(waitMs)
      return acquireAllKeys(
        keys,
        waitMs,
        this.#clock,
        (key, remainingMs) =>
          this.#acquire(
            key,
            { ...options, waitMs: remainingMs },
            false,
            kind,
          ) as Promise<LockHandle>,
      )
    } catch (err) {
      return Promise.reject(err)
    }
  }

  /** `acquireAll`, runs `fn` with the set, and releases every key even when `fn` throws. */
  async withAll<T>(
    keys: readonly string[],
    fn: (locks: LockSet) => T | Promise<T>,
    options: AcquireOptions = {},
  ): Promise<T> {
    if (typeof fn !== 'function') throw new TypeError(`withAll needs a function, got ${typeof fn}`)
    return runAndRelease(await this.acquireAll(keys, options), fn)
  }

  async #inspect(key: string, mode: LockMode): Promise<LockInfo> {
    this.#assertOpen()
    checkKey(key)
    const fullKey = this.#fullKey(key)
    if (this.driver.inspect === undefined)
      throw new LockUnsupportedError(this.driver.name, 'inspect')
    try {
      const info =
        mode === 'semaphore'
          ? await this.driver.inspect(fullKey, 'semaphore')
          : await this.driver.inspect(fullKey)
      return info ?? { held: false }
    } catch (err) {
      throw toBackendError(this.driver.name, err, key)
    }
  }

  /** The grant kind of a lock acquire's options; throws for a mode the driver lacks. */
  #kindOf(options: AcquireOptions): GrantKind {
    if (options === null || typeof options !== 'object') {
      throw new TypeError('acquire options must be an object')
    }
    const mode = options.mode === undefined ? 'exclusive' : options.mode
    checkMode(mode)
    if (mode === 'exclusive') return EXCLUSIVE
    if (!this.driver.capabilities.sharedLocks) {
      throw new LockUnsupportedError(this.driver.name, 'shared locks')
    }
    return SHARED
  }

  /**
   * Releases every held lock, rejects every waiter with `LockClosedError`, stops the
   * timer and closes the driver unless `closeDriver` is false. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= this.#closeNow()
    return this.#closing
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }

  async #closeNow(): Promise<void> {
    for (const attempt of this.#attempts) attempt.stop(new LockClosedError(attempt.key))
    if (this.#attempts.size > 0) {
      await new Promise<void>((resolve) => {
        this.#attemptsDrained = resolve
      })
    }
    // A handle being released or cleaned up after loss stays in #handles until it is done,
    // and release() returns that work, so this waits for it too.
    await Promise.allSettled([...this.#handles].map((handle) => handle.release()))
    while (this.#renewals.size > 0) await Promise.allSettled([...this.#renewals])
    this.#renewer.stop()
    this.#timers.stop()
    if (!this.#closeDriver) return
    try {
      await this.driver.close()
    } catch (err) {
      throw toBackendError(this.driver.name, err)
    }
  }

  #acquire(
    key: string,
    options: AcquireOptions,
    isTry: boolean,
    kind: GrantKind,
  ): Promise<LockHandle | null> {
    this.#assertOpen(key)
    checkKey(key)
    const waitMs = isTry ? 0 : (options.waitMs ?? this.#waitMs)
    if (waitMs !== this.#waitMs) checkWait(waitMs)
    const ttlMs = options.ttlMs ?? this.#ttlMs
    const resolutionMs = this.driver.capabilities.ttlResolutionMs
    // The Locker's own TTL was checked at construction, against the resolution of then.
    if (ttlMs !== this.#ttlMs || resolutionMs !== this.#ttlResolutionMs) {
      checkTtl(ttlMs, resolutionMs)
    }
    const fullKey = this.#fullKey(key)
    const signal = options.signal
    if (signal?.aborted) throw new LockAbortedError(key, signal.reason)
    const target: AttemptTarget =
      kind.limit === undefined && kind.value === undefined
        ? { key, fullKey, owner: newOwnerId(), ttlMs, waitMs, mode: kind.mode }
        : { key, fullKey, owner: newOwnerId(), ttlMs, waitMs, ...kind }
    const attempt = new Attempt(target, this.driver, this.#timers, this.#onContended)
    return this.#attempt(attempt, target, isTry, signal)
  }

  async #attempt(
    attempt: Attempt,
    target: AttemptTarget,
    isTry: boolean,
    signal: AbortSignal | undefined,
  ): Promise<LockHandle | null> {
    const { key, fullKey, owner, waitMs, mode } = target
    const startedAtMs = this.#clock.now()
    const onAbort =
      signal === undefined
        ? undefined
        : () => attempt.stop(new LockAbortedError(key, signal.reason))
    if (onAbort !== undefined) signal?.addEventListener('abort', onAbort, { once: true })
    this.#attempts.add(attempt)
    const slotted = takesSlot(mode)
    let holdsSlot = false
    let contended = false
    try {
      if (slotted) holdsSlot = tryTakeKey(this.#slots, fullKey)
      if (slotted && !holdsSlot) {
        contended = true
        this.#emitContended(key, mode, owner)
        if (waitMs === 0) return this.#noLock(key, isTry, waitMs)
        attempt.setDeadline(startedAtMs + waitMs)
        await waitForKey(this.#slots, fullKey, attempt.signal)
        holdsSlot = true
      }
      const cutOffMs = waitMs === 0 ? this.#attemptTimeoutMs : waitMs + HARD_DEADLINE_GRACE_MS
      attempt.setDeadline(startedAtMs + cutOffMs)
      let lease: DriverLease | null = null
      if (!contended && attempt.queues) {
        // One call with the whole wait, the driver reporting contention itself; one call
        // even when the wait ran out already: then it is the single attempt.
        const remainingMs = Math.ceil(startedAtMs + waitMs - this.#clock.now())
        lease = await attempt.callDriver(Math.max(0, remainingMs), true)
      } else {
        if (!contended) {
          lease = await attempt.callDriver(0)
          if (lease === null) this.#emitContended(key, mode, owner)
        }
        if (lease === null && waitMs > 0) {
          const remainingMs = Math.ceil(startedAtMs + waitMs - this.#clock.now())
          if (remainingMs > 0) lease = await attempt.callDriver(remainingMs)
        }
      }
      if (lease === null) return this.#noLock(key, isTry, waitMs)
      const stopped = attempt.reason
      if (stopped !== undefined) {
        // Stopped between the grant and here (a caller's abort in a microtask): never exposed (S4).
        attempt.releaseLate(lease)
        throw stopped
      }
      const handle = new HeldLock(this.#host, {
        key,
        fullKey,
        mode,
        lease,
        ttlMs: target.ttlMs,
        renews: this.#renew,
      })
      holdsSlot = false
      this.#handles.add(handle)
      if (this.#onEvent !== undefined) {
        const atMs = this.#clock.now()
        const waitedMs = atMs - startedAtMs
        this.#emit({ type: 'acquired', key, mode, atMs, fence: lease.fence, owner, waitedMs })
      }
      handle.start()
      if (slotted) watchKeyWaiters(this.#slots, fullKey, handle)
      return new HandleView(handle)
    } catch (err) {
      if (err instanceof LockTimeoutError) this.#emitTimeout(key, mode, startedAtMs)
      throw err
    } finally {
      attempt.clearDeadline()
      if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort)
      this.#attempts.delete(attempt)
      if (this.#attempts.size === 0) this.#attemptsDrained?.()
      if (holdsSlot) attempt.giveBackSlot(this.#slots)
    }
  }

  #emitContended(key: string, mode: LockMode, owner: string): void {
    if (this.#onEvent !== undefined)
      this.#emit({ type: 'contended', key, mode, atMs: this.#clock.now(), owner })
  }

  #noLock(key: string, isTry: boolean, waitMs: number): null {
    if (isTry) return null
    throw new LockTimeoutError(key, waitMs)
  }

  #emitTimeout(key: string, mode: LockMode, startedAtMs: number): void {
    if (this.#onEvent === undefined) return
    const atMs = this.#clock.now()
    this.#emit({ type: 'timeout', key, mode, atMs, waitedMs: atMs - startedAtMs })
  }

  #fullKey(key: string): string {
    const fullKey = this.#namespace === '' ? key : `${this.#namespace}:${key}`
    checkNamespacedKey(fullKey, this.driver.capabilities.maxKeyBytes, this.driver.name)
    return fullKey
  }

  #assertOpen(key?: string): void {
    if (this.#closing !== undefined) throw new LockClosedError(key)
  }

  #emit(event: LockEvent): void {
    if (this.#onEvent === undefined) return
    try {
      this.#onEvent(event)
    } catch {
      // A throwing listener never breaks the lock.
    }
  }

  #trackRenewal(batch: Promise<unknown>): void {
    const settled = batch.then(
      () => undefined,
      () => undefined,
    )
    this.#renewals.add(settled)
    void settled.then(() => this.#renewals.delete(settled))
  }
}
