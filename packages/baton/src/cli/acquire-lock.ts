import type { Locker, LockHandle } from '@baton-lock/core'
import { isLockError } from '@baton-lock/core'
import type { LockUrl } from '../lock-url.js'
import { atStage } from './backend-stage.js'
import { EXIT, signalExitCode } from './exit-codes.js'
import type { LockTarget } from './lock-target.js'
import { warn } from './output.js'
import { formatDuration } from './parse-duration.js'
import { UsageError } from './usage-error.js'

/** Signals that end baton: while waiting they abort the wait (exit 128+N). */
export const INTERRUPTS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP']

/** How `run` and `lock` obtain their lock. */
export interface AcquirePlan {
  /** How long to wait, in ms; Infinity for no limit. */
  readonly waitMs: number
  /** Try once; `EXIT.SKIPPED` (or `conflictExitCode`) when held elsewhere. */
  readonly skipIfHeld: boolean
  /** `--conflict-exit-code`: replaces both `EXIT.TIMEOUT` and `EXIT.SKIPPED`. */
  readonly conflictExitCode?: number
}

/**
 * The handle, or baton's exit code when none was obtained: held elsewhere (skip), not
 * granted within the wait, or interrupted by a signal while waiting (128+N). Each says
 * why on stderr. A backend failure names the stage and the redacted URL.
 */
export async function acquireLock(
  locker: Locker,
  url: LockUrl,
  target: LockTarget,
  plan: AcquirePlan,
): Promise<LockHandle | number> {
  const { name } = target
  const interrupt = new AbortController()
  let received: NodeJS.Signals = 'SIGINT'
  const onSignal = (signal: NodeJS.Signals) => {
    received = signal
    interrupt.abort(new Error(`interrupted by ${signal}`))
  }
  for (const signal of INTERRUPTS) process.on(signal, onSignal)
  try {
    return await atStage(url, locker, `acquire "${name}" on {url}`, async () => {
      if (plan.skipIfHeld) {
        const handle = await target.tryAcquire()
        if (handle === null) warn(`${target.busy}; skipped`)
        return handle ?? plan.conflictExitCode ?? EXIT.SKIPPED
      }
      return await target.acquire(plan.waitMs, interrupt.signal)
    })
  } catch (err) {
    if (isLockError(err, 'LOCK_TIMEOUT')) {
      warn(`${target.label} not acquired within ${formatDuration(plan.waitMs)}`)
      return plan.conflictExitCode ?? EXIT.TIMEOUT
    }
    if (isLockError(err, 'LOCK_ABORTED')) return signalExitCode(received)
    throw err
  } finally {
    for (const signal of INTERRUPTS) process.off(signal, onSignal)
  }
}

/** `--conflict-exit-code N`: an integer from 0 to 255, or undefined when not given. */
export function parseExitCode(
  flag: string,
  value: string | boolean | undefined,
): number | undefined {
  if (value === undefined) return undefined
  const n = typeof value === 'string' && /^\d{1,3}$/.test(value.trim()) ? Number(value) : Number.NaN
  if (!Number.isInteger(n) || n > 255) {
    throw new UsageError(`invalid --${flag}: "${String(value)}" (an exit code from 0 to 255)`)
  }
  return n
}

/** The lock as a JSON object: fences are strings (they are 64-bit). */
export function grantJson(handle: LockHandle, url: LockUrl): Record<string, string | number> {
  return {
    key: handle.key,
    mode: handle.mode,
    fence: String(handle.fence),
    owner: handle.owner,
    url: url.display,
  }
}
