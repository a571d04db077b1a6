import { isLockError } from '@baton-lock/core'
import type { LockUrl } from '../lock-url.js'
import { UsageError } from './usage-error.js'

/**
 * A backend failure at a named stage of a command: `connect to redis://h:6379 failed after
 * 5.0 s: Command timed out`. A bare client message ("timeout expired") names neither the
 * server nor what baton was doing; this does, with the URL in its redacted form. Exit code
 * 7 (EXIT.BACKEND); `cause` keeps the original error (printed with BATON_DEBUG=1).
 */
export class BackendStageError extends Error {
  constructor(stage: string, url: LockUrl, elapsedMs: number, cause: unknown) {
    const why = cause instanceof Error ? cause.message : String(cause)
    const after = elapsedMs >= 1_000 ? ` after ${(elapsedMs / 1000).toFixed(1)} s` : ''
    const where = stage.replace('{url}', url.display)
    super(`${where} failed${after}: ${why.split('\n')[0] ?? why}`, { cause })
    this.name = 'BackendStageError'
  }
}

/** Backends (drivers or Lockers) whose driver has no `ready()`: they connect on first use. */
const connectsOnFirstUse = new WeakSet<object>()

/** Marks `backend` as one whose first operation is also its connect. */
export function markConnectsOnFirstUse(backend: object): void {
  connectsOnFirstUse.add(backend)
}

/**
 * Runs one backend step named like `inspect "k" on {url}`; a backend failure (a raw client
 * error or `LOCK_BACKEND`) comes out as a `BackendStageError` naming it. On a backend that
 * connects on first use, the first step is named as the connect it also is:
 * `connect to {url} (first use: inspect "k")`. Usage errors, programmer errors and the
 * other lock errors (timeout, lost, aborted) pass as they are: their exit codes differ.
 */
export async function atStage<T>(
  url: LockUrl,
  backend: object | undefined,
  stage: string,
  step: () => Promise<T>,
): Promise<T> {
  const first = backend !== undefined && connectsOnFirstUse.has(backend)
  const named = first ? `connect to {url} (first use: ${stage.replace(/ on \{url\}$/, '')})` : stage
  const startMs = performance.now()
  try {
    const result = await step()
    if (first) connectsOnFirstUse.delete(backend)
    return result
  } catch (err) {
    if (!isBackendFailure(err)) throw err
    throw new BackendStageError(named, url, performance.now() - startMs, err)
  }
}

function isBackendFailure(err: unknown): boolean {
  if (err instanceof UsageError || err instanceof BackendStageError) return false
  if (err instanceof TypeError || err instanceof RangeError) return false
  if (isLockError(err)) return isLockError(err, 'LOCK_BACKEND')
  return true
}
