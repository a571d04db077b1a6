import type { LockInfo } from './driver.js'
import type { LockHandle } from './lock-handle.js'
import type { SemaphoreAcquireOptions } from './locker-options.js'
import { runAndRelease } from './run-and-release.js'

/** What a semaphore needs from its Locker. */
export interface SemaphoreHost {
  acquire(options: SemaphoreAcquireOptions, isTry: boolean): Promise<LockHandle | null>
  inspect(): Promise<LockInfo>
}

/**
 * A counting semaphore made by `locker.semaphore(key, { limit })`: at most `limit` holders
 * at once across every process. Each permit is an ordinary `LockHandle` (mode `semaphore`)
 * with its own fence, loss signal and renewal.
 */
export class Semaphore {
  /** The user's key, without namespace. */
  readonly key: string
  /** How many holders the semaphore admits at once. */
  readonly limit: number
  readonly #host: SemaphoreHost

  constructor(key: string, limit: number, host: SemaphoreHost) {
    this.key = key
    this.limit = limit
    this.#host = host
  }

  /** Waits up to `waitMs` for a permit; throws `LockTimeoutError`, `LockAbortedError` or `LockClosedError`. */
  acquire(options: SemaphoreAcquireOptions = {}): Promise<LockHandle> {
    return this.#call(options, false) as Promise<LockHandle>
  }

  /** One attempt: a permit, or null when `limit` holders hold the semaphore. */
  tryAcquire(options: Omit<SemaphoreAcquireOptions, 'waitMs'> = {}): Promise<LockHandle | null> {
    return this.#call(options, true) // a try is one attempt: the Locker sends waitMs 0
  }

  /** Takes a permit, runs `fn` with it (renewed meanwhile), and releases even when `fn` throws. */
  async withLock<T>(
    fn: (permit: LockHandle) => T | Promise<T>,
    options: SemaphoreAcquireOptions = {},
  ): Promise<T> {
    if (typeof fn !== 'function') throw new TypeError(`withLock needs a function, got ${typeof fn}`)
    return runAndRelease(await this.acquire(options), fn)
  }

  /** How many permits are in use (`holders`) and the holders' limit, where the backend can tell. */
  inspect(): Promise<LockInfo> {
    return this.#host.inspect()
  }

  #call(options: SemaphoreAcquireOptions, isTry: boolean): Promise<LockHandle | null> {
    if (options === null || typeof options !== 'object') {
      return Promise.reject(new TypeError('semaphore acquire options must be an object'))
    }
    if ('mode' in options) {
      return Promise.reject(new TypeError('a semaphore acquire takes no mode'))
    }
    try {
      return this.#host.acquire(options, isTry)
    } catch (err) {
      return Promise.reject(err)
    }
  }
}
