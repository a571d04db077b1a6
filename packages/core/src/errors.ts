/** Stable codes of every error Baton raises; they survive duplicate installs, unlike `instanceof`. */
export type LockErrorCode =
  | 'LOCK_TIMEOUT'
  | 'LOCK_ABORTED'
  | 'LOCK_LOST'
  | 'LOCK_BACKEND'
  | 'LOCK_UNSUPPORTED'
  | 'LOCK_CLOSED'
  | 'LOCK_DEADLOCK'
  | 'LOCK_LIMIT_MISMATCH'

/** Context common to lock errors. */
export interface LockErrorOptions {
  /** The user's key (without namespace), where one applies. */
  readonly key?: string
  readonly cause?: unknown
}

/** Base of every error Baton raises on purpose. Check with `isLockError(err, code)`. */
export class LockError extends Error {
  readonly code: LockErrorCode
  readonly key: string | undefined

  constructor(code: LockErrorCode, message: string, options: LockErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'LockError'
    this.code = code
    this.key = options.key
  }
}

/** `acquire` did not get the key within `waitMs`. */
export class LockTimeoutError extends LockError {
  readonly waitMs: number
  constructor(key: string, waitMs: number) {
    super('LOCK_TIMEOUT', `lock "${key}" not acquired within ${waitMs} ms`, { key })
    this.name = 'LockTimeoutError'
    this.waitMs = waitMs
  }
}

/** The caller's signal aborted an `acquire`; `cause` is the signal's reason. */
export class LockAbortedError extends LockError {
  constructor(key: string, reason?: unknown) {
    super('LOCK_ABORTED', `acquire of lock "${key}" aborted`, { key, cause: reason })
    this.name = 'LockAbortedError'
  }
}

/** Why a held lock can no longer be trusted. */
export type LockLostReason =
  /** `validUntil` passed without a confirming renewal (silent loss, N1/N3). */
  | 'expired'
  /** The backend said the lock is gone or owned by someone else (N2). */
  | 'server'
  /** The driver saw evidence of loss: session ended, server restarted (N2). */
  | 'driver'

/** Exclusivity is no longer guaranteed: `handle.signal.reason` and `assertValid()` throw this. */
export class LockLostError extends LockError {
  readonly fence: bigint
  readonly reason: LockLostReason
  constructor(key: string, fence: bigint, reason: LockLostReason, cause?: unknown) {
    super('LOCK_LOST', `lock "${key}" (fence ${fence}) lost: ${describeReason(reason)}`, {
      key,
      cause,
    })
    this.name = 'LockLostError'
    this.fence = fence
    this.reason = reason
  }
}

/** The backend failed (unreachable, refused, protocol error); `cause` is the driver's raw error, redacted. */
export class LockBackendError extends LockError {
  readonly driver: string
  constructor(driver: string, message: string, options: LockErrorOptions = {}) {
    super('LOCK_BACKEND', `${driver}: ${message}`, options)
    this.name = 'LockBackendError'
    this.driver = driver
  }
}

/** The driver cannot do what was asked (e.g. `inspect` on a backend that cannot tell). */
export class LockUnsupportedError extends LockError {
  readonly driver: string
  readonly feature: string
  /** `message` replaces the default "the DRIVER driver does not support FEATURE". */
  constructor(driver: string, feature: string, message?: string) {
    super('LOCK_UNSUPPORTED', message ?? `the ${driver} driver does not support ${feature}`)
    this.name = 'LockUnsupportedError'
    this.driver = driver
    this.feature = feature
  }
}

/**
 * The Locker was closed, or the handle was released: every call after `close()`, every
 * waiter at close, and `assertValid()`/`extend()` on a released handle get this.
 */
export class LockClosedError extends LockError {
  constructor(key?: string, message?: string) {
    const text =
      message ?? (key === undefined ? 'locker is closed' : `locker is closed (lock "${key}")`)
    super('LOCK_CLOSED', text, key === undefined ? {} : { key })
    this.name = 'LockClosedError'
  }
}

/**
 * The backend detected a deadlock involving this wait (MySQL's user-lock deadlock check,
 * PostgreSQL's detector) and refused it; nothing is held for this acquire. `acquireAll`
 * takes keys in one canonical order, so Baton callers alone never deadlock: another
 * client's locks are involved.
 */
export class LockDeadlockError extends LockError {
  readonly driver: string
  constructor(driver: string, key: string, cause?: unknown) {
    super('LOCK_DEADLOCK', `${driver}: waiting for lock "${key}" would deadlock`, { key, cause })
    this.name = 'LockDeadlockError'
    this.driver = driver
  }
}

/**
 * A semaphore acquire asked for `limit` permits while the key's current holders use
 * `heldLimit`: every holder of one semaphore must agree on its limit.
 */
export class LockLimitMismatchError extends LockError {
  readonly limit: number
  readonly heldLimit: number
  constructor(key: string, limit: number, heldLimit: number) {
    super(
      'LOCK_LIMIT_MISMATCH',
      `semaphore "${key}" is held with limit ${heldLimit}; this acquire asked for limit ${limit}`,
      { key },
    )
    this.name = 'LockLimitMismatchError'
    this.limit = limit
    this.heldLimit = heldLimit
  }
}

/** The class of each code, so `isLockError(err, code)` narrows to it (e.g. `err.waitMs`). */
export interface LockErrorByCode {
  LOCK_TIMEOUT: LockTimeoutError
  LOCK_ABORTED: LockAbortedError
  LOCK_LOST: LockLostError
  LOCK_BACKEND: LockBackendError
  LOCK_UNSUPPORTED: LockUnsupportedError
  LOCK_CLOSED: LockClosedError
  LOCK_DEADLOCK: LockDeadlockError
  LOCK_LIMIT_MISMATCH: LockLimitMismatchError
}

/**
 * True when `err` is a Baton error, and has `code` if given; narrows to that code's class.
 * Checks the code, not `instanceof`, so it works across duplicate installs.
 */
export function isLockError(err: unknown): err is LockError
export function isLockError<C extends LockErrorCode>(
  err: unknown,
  code: C,
): err is LockErrorByCode[C]
export function isLockError(err: unknown, code?: LockErrorCode): err is LockError {
  if (typeof err !== 'object' || err === null) return false
  const c = (err as { code?: unknown }).code
  if (typeof c !== 'string' || !c.startsWith('LOCK_') || !(err instanceof Error)) return false
  return code === undefined || c === code
}

function describeReason(reason: LockLostReason): string {
  switch (reason) {
    case 'expired':
      return 'its validity ran out before a renewal confirmed it'
    case 'server':
      return 'the backend no longer has it for this owner'
    case 'driver':
      return 'the driver saw the backend drop it'
  }
}
