import type { LockMode } from './driver.js'
import type { LockHandle, LockState } from './lock-handle.js'

/**
 * The `LockHandle` users receive: the documented members only, forwarded to core's held
 * lock, whose renewal and loss machinery stays out of reach (and out of autocomplete).
 */
export class HandleView implements LockHandle {
  readonly key: string
  readonly owner: string
  readonly fence: bigint
  readonly mode: LockMode
  readonly #lock: LockHandle

  constructor(lock: LockHandle) {
    this.#lock = lock
    this.key = lock.key
    this.owner = lock.owner
    this.fence = lock.fence
    this.mode = lock.mode
  }

  get signal(): AbortSignal {
    return this.#lock.signal
  }

  get state(): LockState {
    return this.#lock.state
  }

  validForMs(): number {
    return this.#lock.validForMs()
  }

  isValid(): boolean {
    return this.#lock.isValid()
  }

  assertValid(): void {
    this.#lock.assertValid()
  }

  extend(ttlMs?: number): Promise<void> {
    return this.#lock.extend(ttlMs)
  }

  release(): Promise<void> {
    return this.#lock.release()
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.#lock.release()
  }
}
