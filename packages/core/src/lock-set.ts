import type { Clock } from './clock.js'
import { isLockError, LockTimeoutError } from './errors.js'
import type { LockHandle } from './lock-handle.js'

/** The locks `acquireAll` took, one handle per key, released together. */
export interface LockSet extends AsyncDisposable {
  /** One handle per key, in the canonical order they were taken. */
  readonly locks: readonly LockHandle[]
  /** The handle of `key`, or undefined when the set has none. */
  get(key: string): LockHandle | undefined
  /** Aborts, with that lock's `LockLostError` as reason, as soon as any lock of the set is lost. */
  readonly signal: AbortSignal
  /** True while every lock of the set is valid (synchronous clock check). */
  isValid(): boolean
  /** Throws the first invalid lock's error unless every lock is valid. */
  assertValid(): void
  /** The least validity left of any lock, in ms. */
  validForMs(): number
  /** Releases every lock; idempotent; never throws for a lock already gone. */
  release(): Promise<void>
}

/**
 * The canonical order of `acquireAll`: UTF-8 byte order of the user's keys. Every caller
 * takes overlapping keys in the same order, so no two Baton callers wait for each other
 * in a cycle.
 */
export function canonicalOrder(keys: readonly string[]): string[] {
  return [...keys].sort((a, b) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')))
}

/**
 * Takes `keys` one by one in canonical order within one deadline; on any failure releases
 * what it took and rethrows (a timeout as `LockTimeoutError` naming the set's `waitMs`).
 */
export async function acquireAllKeys(
  keys: readonly string[],
  waitMs: number,
  clock: Clock,
  acquireOne: (key: string, remainingMs: number) => Promise<LockHandle>,
): Promise<LockSet> {
  const startedAtMs = clock.now()
  const held: LockHandle[] = []
  try {
    for (const key of canonicalOrder(keys)) {
      const remainingMs = Number.isFinite(waitMs)
        ? Math.max(0, Math.ceil(startedAtMs + waitMs - clock.now()))
        : waitMs
      try {
        held.push(await acquireOne(key, remainingMs))
      } catch (err) {
        if (isLockError(err, 'LOCK_TIMEOUT')) throw new LockTimeoutError(key, waitMs)
        throw err
      }
    }
  } catch (err) {
    await Promise.allSettled(held.map((lock) => lock.release()))
    throw err
  }
  return new HeldSet(held)
}

class HeldSet implements LockSet {
  readonly locks: readonly LockHandle[]
  #signal: AbortSignal | undefined

  constructor(locks: readonly LockHandle[]) {
    this.locks = Object.freeze([...locks])
  }

  get(key: string): LockHandle | undefined {
    return this.locks.find((lock) => lock.key === key)
  }

  get signal(): AbortSignal {
    this.#signal ??= AbortSignal.any(this.locks.map((lock) => lock.signal))
    return this.#signal
  }

  isValid(): boolean {
    return this.locks.every((lock) => lock.isValid())
  }

  assertValid(): void {
    for (const lock of this.locks) lock.assertValid()
  }

  validForMs(): number {
    return Math.min(...this.locks.map((lock) => lock.validForMs()))
  }

  async release(): Promise<void> {
    await Promise.all(this.locks.map((lock) => lock.release()))
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.release()
  }
}
