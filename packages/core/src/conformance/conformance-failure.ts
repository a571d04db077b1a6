import { isLockError, type LockErrorCode } from '../errors.js'

/** A broken invariant, as a check reports it. The message says what was seen and what the contract wants. */
export class ConformanceFailure extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'ConformanceFailure'
  }
}

/** Throws a `ConformanceFailure` with `message` unless `cond` holds. */
export function ensure(cond: unknown, message: string | (() => string)): asserts cond {
  if (!cond) throw new ConformanceFailure(typeof message === 'string' ? message : message())
}

/** A short description of a thrown value for failure messages. */
export function describeError(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code
    return `${err.name}${typeof code === 'string' ? ` [${code}]` : ''}: ${err.message}`
  }
  return `non-error ${typeof err}: ${String(err)}`
}

/** Awaits `promise` and returns its rejection; fails when it resolves instead. */
export async function rejectionOf(promise: Promise<unknown>, what: string): Promise<unknown> {
  try {
    const value = await promise
    throw new ConformanceFailure(
      `${what} resolved (${describeValue(value)}) but should have rejected`,
    )
  } catch (err) {
    if (err instanceof ConformanceFailure) throw err
    return err
  }
}

/** Awaits `promise` and fails unless it rejects with a LockError of `code`. */
export async function expectLockError(
  promise: Promise<unknown>,
  code: LockErrorCode,
  what: string,
): Promise<unknown> {
  const err = await rejectionOf(promise, what)
  ensure(
    isLockError(err, code),
    () => `${what} should reject with ${code}, got ${describeError(err)}`,
  )
  return err
}

/** Fails unless `fn` throws a LockError of `code`. */
export function expectLockErrorSync(fn: () => unknown, code: LockErrorCode, what: string): void {
  try {
    fn()
  } catch (err) {
    ensure(isLockError(err, code), () => `${what} should throw ${code}, got ${describeError(err)}`)
    return
  }
  throw new ConformanceFailure(`${what} should throw ${code} but returned`)
}

function describeValue(value: unknown): string {
  if (value === null || value === undefined) return String(value)
  if (typeof value === 'object') {
    const fence = (value as { fence?: unknown }).fence
    return typeof fence === 'bigint' ? `a handle with fence ${fence}` : 'an object'
  }
  return String(value)
}
