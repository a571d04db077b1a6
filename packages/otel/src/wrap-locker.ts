import type {
  AcquireOptions,
  Election,
  Locker,
  LockHandle,
  LockMode,
  LockSet,
  Semaphore,
} from '@baton-lock/core'
import type { AcquireOperation } from './semantics.js'

/** One call that takes a lock, a permit, a leadership or a set, as its span records it. */
export interface AcquireCall {
  readonly operation: AcquireOperation
  /** The user's key; undefined for `acquire_all` (many keys). */
  readonly key: string | undefined
  /** The mode asked for; undefined when the options name one core refuses. */
  readonly mode: LockMode | undefined
  /** The caller's `waitMs`, as given (undefined: the Locker's default). */
  readonly waitLimitMs: unknown
  /** A semaphore's limit. */
  readonly limit?: number
  /** How many keys an `acquire_all` asked for. */
  readonly keyCount?: number
}

/** Runs `take` as the acquire `call` describes, recording it; resolves and rejects as `take` does. */
export type Observe = <T extends LockHandle | LockSet | null>(
  call: AcquireCall,
  take: () => Promise<T>,
) => Promise<T>

/**
 * Wraps, on the instance, every public way a Locker takes a lock: `acquire`, `tryAcquire`,
 * `acquireAll`, and the `Semaphore` and `Election` objects `semaphore()` and `election()`
 * return. The convenience calls go through these (`withLock`, `withAll`, `elect`, a
 * Semaphore's `withLock`, an Election's `lead`), so they are covered too.
 */
export function wrapLocker(locker: Locker, observe: Observe): void {
  const { acquire, tryAcquire, acquireAll, semaphore, election } = locker
  locker.acquire = (key, options) =>
    observe(lockCall('acquire', key, options, options?.waitMs), () =>
      acquire.call(locker, key, options),
    )
  locker.tryAcquire = (key, options) =>
    observe(lockCall('try_acquire', key, options, 0), () => tryAcquire.call(locker, key, options))
  locker.acquireAll = (keys, options) => {
    const call: AcquireCall = {
      operation: 'acquire_all',
      key: undefined,
      mode: modeOf(options),
      waitLimitMs: options?.waitMs,
      ...(Array.isArray(keys) ? { keyCount: keys.length } : {}),
    }
    return observe(call, () => acquireAll.call(locker, keys, options))
  }
  locker.semaphore = (key, options) => {
    const made = semaphore.call(locker, key, options)
    wrapSemaphore(made, observe)
    return made
  }
  locker.election = (key, options) => {
    const made = election.call(locker, key, options)
    wrapElection(made, observe)
    return made
  }
}

function wrapSemaphore(semaphore: Semaphore, observe: Observe): void {
  const { acquire, tryAcquire, key, limit } = semaphore
  const call = (operation: AcquireOperation, waitLimitMs: unknown): AcquireCall => ({
    operation,
    key,
    mode: 'semaphore',
    waitLimitMs,
    limit,
  })
  semaphore.acquire = (options) =>
    observe(call('acquire', options?.waitMs), () => acquire.call(semaphore, options))
  semaphore.tryAcquire = (options) =>
    observe(call('try_acquire', 0), () => tryAcquire.call(semaphore, options))
}

/**
 * A campaign gets a span when it asks the backend: not when it returns the leadership this
 * candidate holds already, nor when it joins the campaign in flight (that one has its span).
 */
function wrapElection(election: Election, observe: Observe): void {
  const { campaign } = election
  let running: Promise<LockHandle> | undefined
  election.campaign = (options) => {
    if (running !== undefined || election.isLeader()) return campaign.call(election, options)
    const call: AcquireCall = {
      operation: 'campaign',
      key: election.key,
      mode: 'exclusive',
      waitLimitMs: options?.waitMs,
    }
    const campaigning = observe(call, () => campaign.call(election, options))
    running = campaigning
    const done = () => {
      if (running === campaigning) running = undefined
    }
    campaigning.then(done, done)
    return campaigning
  }
}

function lockCall(
  operation: AcquireOperation,
  key: string,
  options: AcquireOptions | undefined,
  waitLimitMs: unknown,
): AcquireCall {
  return { operation, key, mode: modeOf(options), waitLimitMs }
}

/** The mode a lock acquire asks for, or undefined for options core refuses. */
function modeOf(options: AcquireOptions | undefined): LockMode | undefined {
  const mode = typeof options === 'object' && options !== null ? options.mode : undefined
  if (mode === undefined || mode === 'exclusive') return 'exclusive'
  return mode === 'shared' ? 'shared' : undefined
}
