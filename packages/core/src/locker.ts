import { toBackendError } from './backend-error.js'
import { type Clock, systemClock, type TimerHandle } from './clock.js'
import type { DriverLease, LockDriver, LockInfo } from './driver.js'
import {
  LockAbortedError,
  LockClosedError,
  LockTimeoutError,
  LockUnsupportedError,
} from './errors.js'
import { type HandleHost, HeldLock } from './held-lock.js'
import { giveBackKey, tryTakeKey, waitForKey } from './key-queue.js'
import type { LockEvent } from './lock-event.js'
import type { LockHandle } from './lock-handle.js'
import type { AcquireOptions, LockerOptions } from './locker-options.js'
import { newOwnerId } from './owner-id.js'
import { Renewer } from './renewer.js'
import { checkKey, checkNamespace, checkNamespacedKey, checkTtl, checkWait } from './validate.js'

/**
 * How long past `waitMs` core lets a driver call run before it gives up on its own (L3):
 * the driver normally answers null at `waitMs`; this is for a backend that hangs.
 */
const HARD_DEADLINE_GRACE_MS = 50

/**
 * The API applications use: a thin lifecycle wrapper over any `LockDriver`. It validates
 * arguments before any backend call, queues same-key acquires in process (S5), owns every
 * deadline and abort (L3), renews held locks with one timer, maps driver errors to typed
 * ones, and leaves nothing behind after `close()` (H1).
 */
export class Locker implements AsyncDisposable {
  /** The driver this Locker wraps. */
  readonly driver: LockDriver
  readonly #clock: Clock
  readonly #namespace: string
  readonly #ttlMs: number
  readonly #waitMs: number
  readonly #renew: boolean
  readonly #closeDriver: boolean
  readonly #onEvent: ((event: LockEvent) => void) | undefined
  readonly #host: HandleHost
  readonly #handles = new Set<HeldLock>()
  /** Aborts every acquire in progress, in process or in the driver, at close. */
  readonly #attempts = new Set<AbortController>()
  readonly #background = new Set<Promise<unknown>>()
  #closing: Promise<void> | undefined

  constructor(driver: LockDriver, options: LockerOptions = {}) {
    const namespace = options.namespace ?? ''
    checkNamespace(namespace)
    const ttlMs = options.ttlMs ?? 30_000
    checkTtl(ttlMs, driver.capabilities.ttlResolutionMs, 'options.ttlMs')
    const waitMs = options.waitMs ?? 30_000
    checkWait(waitMs, 'options.waitMs')
    if (options.onEvent !== undefined && typeof options.onEvent !== 'function') {
      throw new TypeError('options.onEvent must be a function')
    }
    this.driver = driver
    this.#clock = options.clock ?? systemClock
    this.#namespace = namespace
    this.#ttlMs = ttlMs
    this.#waitMs = waitMs
    this.#renew = options.renew ?? true
    this.#closeDriver = options.closeDriver ?? true
    this.#onEvent = options.onEvent
    const track = (work: Promise<unknown>) => this.#track(work)
    this.#host = {
      driver,
      clock: this.#clock,
      renewer: new Renewer(this.#clock, driver, track),
      emit: (event) => this.#emit(event),
      track,
      finish: (handle) => {
        this.#handles.delete(handle)
        giveBackKey(driver, handle.lease.key)
      },
    }
  }

  /** Waits up to `waitMs` for the key; throws `LockTimeoutError`, `LockAbortedError` or `LockClosedError`. */
  async acquire(key: string, options: AcquireOptions = {}): Promise<LockHandle> {
    return (await this.#acquire(key, options, false)) as LockHandle
  }

  /** One attempt: the handle, or null when someone else holds the key. */
  tryAcquire(
    key: string,
    options: Omit<AcquireOptions, 'waitMs'> = {},
  ): Promise<LockHandle | null> {
    return this.#acquire(key, { ...options, waitMs: 0 }, true)
  }

  /** Acquires, runs `fn` with the handle (renewed meanwhile), and releases even when `fn` throws. */
  async withLock<T>(
    key: string,
    fn: (lock: LockHandle) => T | Promise<T>,
    options: AcquireOptions = {},
  ): Promise<T> {
    const lock = await this.acquire(key, options)
    let result: T
    try {
      result = await fn(lock)
    } catch (err) {
      await lock.release().catch(() => undefined)
      throw err
    }
    await lock.release()
    return result
  }

  /** What the backend can tell about `key`; `{ held: false }` when free. */
  async inspect(key: string): Promise<LockInfo> {
    this.#assertOpen()
    checkKey(key)
    const fullKey = this.#fullKey(key)
    if (this.driver.inspect === undefined)
      throw new LockUnsupportedError(this.driver.name, 'inspect')
    try {
      return (await this.driver.inspect(fullKey)) ?? { held: false }
    } catch (err) {
      throw toBackendError(this.driver.name, err, key)
    }
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
    for (const attempt of this.#attempts) attempt.abort(new LockClosedError())
    await Promise.allSettled([...this.#handles].map((handle) => handle.release()))
    while (this.#background.size > 0) await Promise.allSettled([...this.#background])
    this.#host.renewer.stop()
    if (!this.#closeDriver) return
    try {
      await this.driver.close()
    } catch (err) {
      throw toBackendError(this.driver.name, err)
    }
  }

  async #acquire(key: string, options: AcquireOptions, isTry: boolean): Promise<LockHandle | null> {
    this.#assertOpen(key)
    checkKey(key)
    const waitMs = options.waitMs ?? this.#waitMs
    checkWait(waitMs)
    const ttlMs = options.ttlMs ?? this.#ttlMs
    checkTtl(ttlMs, this.driver.capabilities.ttlResolutionMs)
    const fullKey = this.#fullKey(key)
    const signal = options.signal
    if (signal?.aborted) throw new LockAbortedError(key, signal.reason)
    const work = this.#attempt(key, fullKey, ttlMs, waitMs, isTry, signal)
    this.#track(work)
    return work
  }

  async #attempt(
    key: string,
    fullKey: string,
    ttlMs: number,
    waitMs: number,
    isTry: boolean,
    signal: AbortSignal | undefined,
  ): Promise<LockHandle | null> {
    const startedAtMs = this.#clock.now()
    const owner = newOwnerId()
    const stop = new AbortController()
    const onAbort = () => stop.abort(new LockAbortedError(key, signal?.reason))
    signal?.addEventListener('abort', onAbort, { once: true })
    this.#attempts.add(stop)
    let timer: TimerHandle | undefined
    const armDeadline = (atMs: number) => {
      if (timer !== undefined) this.#clock.clearTimeout(timer)
      if (Number.isFinite(atMs)) {
        const timeout = () => stop.abort(new LockTimeoutError(key, waitMs))
        timer = this.#clock.setTimeout(timeout, atMs - this.#clock.now())
      }
    }
    let holdsSlot = false
    let contended = false
    const abandoned: Array<Promise<unknown>> = []
    const contend = () => {
      contended = true
      this.#emit({ type: 'contended', key, atMs: this.#clock.now(), owner })
    }
    try {
      holdsSlot = tryTakeKey(this.driver, fullKey)
      if (!holdsSlot) {
        contend()
        if (waitMs === 0) return this.#noLock(key, isTry, waitMs)
        armDeadline(startedAtMs + waitMs)
        await waitForKey(this.driver, fullKey, stop.signal)
        holdsSlot = true
      }
      armDeadline(startedAtMs + waitMs + HARD_DEADLINE_GRACE_MS)
      const request = { key: fullKey, owner, ttlMs, signal: stop.signal }
      let lease: DriverLease | null = null
      if (!contended) {
        lease = await this.#callDriver({ ...request, waitMs: 0 }, stop.signal, key, abandoned)
        if (lease === null) contend()
      }
      const remainingMs = Math.ceil(startedAtMs + waitMs - this.#clock.now())
      if (lease === null && remainingMs > 0) {
        lease = await this.#callDriver(
          { ...request, waitMs: remainingMs },
          stop.signal,
          key,
          abandoned,
        )
      }
      if (lease === null) return this.#noLock(key, isTry, waitMs)
      const handle = new HeldLock(this.#host, key, lease, ttlMs, this.#renew)
      holdsSlot = false
      this.#handles.add(handle)
      const waitedMs = this.#clock.now() - startedAtMs
      this.#emit({
        type: 'acquired',
        key,
        atMs: this.#clock.now(),
        fence: lease.fence,
        owner,
        waitedMs,
      })
      handle.start()
      return handle
    } catch (err) {
      if (err instanceof LockTimeoutError) this.#emitTimeout(key, startedAtMs)
      throw err
    } finally {
      if (timer !== undefined) this.#clock.clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
      this.#attempts.delete(stop)
      if (holdsSlot && abandoned.length === 0) giveBackKey(this.driver, fullKey)
      // Keep the key slot until an abandoned call settles and its late grant is released:
      // on a session backend the next same-key acquire could otherwise re-enter (S5).
      else if (holdsSlot) void Promise.all(abandoned).then(() => giveBackKey(this.driver, fullKey))
    }
  }

  /**
   * One driver call raced against `stop` (timeout, caller abort, close). When `stop` wins,
   * the driver's request signal is already aborted, and a grant that still arrives is
   * released in the background and never exposed (S4); `abandoned` receives that cleanup.
   */
  async #callDriver(
    request: Parameters<LockDriver['acquire']>[0],
    stop: AbortSignal,
    key: string,
    abandoned: Array<Promise<unknown>>,
  ): Promise<DriverLease | null> {
    if (stop.aborted) throw stop.reason
    let call: Promise<DriverLease | null>
    try {
      call = this.driver.acquire(request)
    } catch (err) {
      call = Promise.reject(err)
    }
    let lease: DriverLease | null
    try {
      lease = await raceAbort(call, stop)
    } catch (err) {
      if (!stop.aborted) throw toBackendError(this.driver.name, err, key)
      abandoned.push(this.#releaseLate(call))
      throw stop.reason
    }
    if (stop.aborted) {
      // Granted just as the deadline, the caller's abort or close struck: never expose it.
      abandoned.push(this.#releaseLate(call))
      throw stop.reason
    }
    return lease
  }

  /** Releases whatever an abandoned call grants; never rejects. Not awaited by close(): a hung backend may never answer. */
  #releaseLate(call: Promise<DriverLease | null>): Promise<unknown> {
    return call
      .then((lease) => (lease === null ? false : this.driver.release(lease)))
      .catch(() => false)
  }

  #noLock(key: string, isTry: boolean, waitMs: number): null {
    if (isTry) return null
    throw new LockTimeoutError(key, waitMs)
  }

  #emitTimeout(key: string, startedAtMs: number): void {
    const atMs = this.#clock.now()
    this.#emit({ type: 'timeout', key, atMs, waitedMs: atMs - startedAtMs })
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

  #track(work: Promise<unknown>): void {
    const settled = work.then(
      () => undefined,
      () => undefined,
    )
    this.#background.add(settled)
    void settled.then(() => this.#background.delete(settled))
  }
}

/** Settles like `promise`, or rejects with `signal.reason` as soon as `signal` aborts. */
function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason)
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort)
        resolve(value)
      },
      (err) => {
        signal.removeEventListener('abort', onAbort)
        reject(err)
      },
    )
  })
}
