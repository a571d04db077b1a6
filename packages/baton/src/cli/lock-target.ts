import type { Election, Locker, LockHandle } from '@baton-lock/core'
import { UsageError } from './usage-error.js'

/** How `run` holds its key: the exclusive lock, a shared lock, or one of `limit` permits. */
export type RunMode =
  | { readonly mode: 'exclusive' }
  | { readonly mode: 'shared' }
  | { readonly mode: 'semaphore'; readonly limit: number }

/** Largest `--semaphore N`, as core's `locker.semaphore()` takes it. */
const MAX_LIMIT = 10_000

/**
 * One thing a command waits for, named for its messages: a lock in some mode, a semaphore
 * permit, or an election's leadership. `acquire` waits (`waitMs`, Infinity for ever) and
 * `tryAcquire` makes one attempt (null when held elsewhere).
 */
export interface LockTarget {
  /** The key as the user named it. */
  readonly name: string
  /** What is acquired, for messages: `lock "k"`, `a permit of semaphore "k" (limit 2)`. */
  readonly label: string
  /** What `--skip-if-held` says when the attempt failed: `lock "k" is held elsewhere`. */
  readonly busy: string
  acquire(waitMs: number, signal: AbortSignal): Promise<LockHandle>
  tryAcquire(): Promise<LockHandle | null>
}

/** `--shared` and `--semaphore N` of `baton run`, checked: at most one of them, N in range. */
export function parseRunMode(
  shared: string | boolean | undefined,
  semaphore: string | boolean | undefined,
): RunMode {
  if (shared === true && semaphore !== undefined) {
    throw new UsageError('--shared and --semaphore exclude each other (see baton run --help)')
  }
  if (shared === true) return { mode: 'shared' }
  if (semaphore === undefined) return { mode: 'exclusive' }
  const text = typeof semaphore === 'string' ? semaphore.trim() : ''
  const limit = /^\d{1,5}$/.test(text) ? Number(text) : Number.NaN
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
    throw new UsageError(
      `invalid --semaphore: "${String(semaphore)}" (how many may hold NAME at once: an integer from 1 to ${MAX_LIMIT})`,
    )
  }
  return { mode: 'semaphore', limit }
}

/** The target `baton run` / `baton lock` acquire for `name` in `mode`. */
export function lockTarget(locker: Locker, name: string, mode: RunMode, ttlMs: number): LockTarget {
  if (mode.mode === 'semaphore') {
    const semaphore = locker.semaphore(name, { limit: mode.limit })
    const label = `a permit of semaphore "${name}" (limit ${mode.limit})`
    return {
      name,
      label,
      busy: `semaphore "${name}" has all ${mode.limit} permits held`,
      acquire: (waitMs, signal) => semaphore.acquire({ ttlMs, waitMs, signal }),
      tryAcquire: () => semaphore.tryAcquire({ ttlMs }),
    }
  }
  const shared = mode.mode === 'shared'
  const label = shared ? `shared lock "${name}"` : `lock "${name}"`
  return {
    name,
    label,
    busy: shared
      ? `lock "${name}" is held exclusively elsewhere`
      : `lock "${name}" is held elsewhere`,
    acquire: (waitMs, signal) => locker.acquire(name, { ttlMs, waitMs, signal, mode: mode.mode }),
    tryAcquire: () => locker.tryAcquire(name, { ttlMs, mode: mode.mode }),
  }
}

/** The leadership of `election` as a target (`baton elect`). */
export function electionTarget(election: Election): LockTarget {
  const name = election.key
  return {
    name,
    label: `leadership of "${name}"`,
    busy: `"${name}" has another leader`,
    acquire: (waitMs, signal) => election.campaign({ waitMs, signal }),
    tryAcquire: () => Promise.reject(new TypeError('an election campaign always waits')),
  }
}
