import type { LockDriver } from '../../driver.js'
import { isLockError } from '../../errors.js'
import type { LockEvent } from '../../lock-event.js'
import type { LockHandle } from '../../lock-handle.js'
import type { Locker } from '../../locker.js'
import type { LockerOptions } from '../../locker-options.js'
import type { Semaphore } from '../../semaphore.js'
import type { CheckContext } from '../check-context.js'
import { ensure } from '../conformance-failure.js'
import type { DroppableLock } from '../options.js'
import { delay, waitFor } from '../wait-for.js'

/** A Locker on a fresh driver whose events are recorded. */
export async function recordingLocker(
  ctx: CheckContext,
  options: LockerOptions = {},
  driver?: LockDriver,
): Promise<{ locker: Locker; events: LockEvent[] }> {
  const events: LockEvent[] = []
  const locker = await ctx.locker({ ...options, onEvent: (e) => events.push(e) }, driver)
  return { locker, events }
}

/**
 * Gives a pending acquire time to reach the backend's wait: until its Locker reports
 * `contended` for `key` (bounded), then a short settle for the driver to set up its push
 * channel (subscribe, watch). Only latency checks need this; safety checks never rely on it.
 */
export async function untilWaiting(
  ctx: CheckContext,
  events: LockEvent[],
  key: string,
): Promise<void> {
  await waitFor(() => events.some((e) => e.type === 'contended' && e.key === key), {
    timeoutMs: ctx.timing.slackMs,
    message: `a 'contended' event for ${key}`,
  }).catch(() => undefined)
  await delay(Math.max(20, Math.round(ctx.timing.resolutionMs / 20)))
}

/**
 * One `tryAcquire` that gets an answer. A `LOCK_TIMEOUT` means core's one-attempt deadline
 * (L3) struck before the backend replied, as a slow round trip on a loaded machine can:
 * that is no answer, so it is asked again (3 times at most), then counts as not granted.
 * Core gives back a grant that arrives after its deadline (S4).
 */
export async function tryOnce(
  locker: Locker,
  key: string,
  options: { ttlMs?: number; mode?: 'exclusive' | 'shared' } = {},
): Promise<LockHandle | null> {
  return retryTimeouts(() => locker.tryAcquire(key, options))
}

/** `tryOnce` for a permit of `semaphore`. */
export function tryPermit(
  semaphore: Semaphore,
  options: { ttlMs?: number } = {},
): Promise<LockHandle | null> {
  return retryTimeouts(() => semaphore.tryAcquire(options))
}

/** Runs a one-attempt call, asking again (3 times at most) when core's one-attempt deadline struck. */
async function retryTimeouts(
  attemptOnce: () => Promise<LockHandle | null>,
): Promise<LockHandle | null> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await attemptOnce()
    } catch (err) {
      if (!isLockError(err, 'LOCK_TIMEOUT')) throw err
      if (attempt >= 3) return null
    }
  }
}

/** Fails unless another driver's one attempt on `key` is refused (the key is held). */
export async function expectHeld(
  ctx: CheckContext,
  locker: Locker,
  key: string,
  what: string,
  mode: 'exclusive' | 'shared' = 'exclusive',
): Promise<void> {
  const intruder = await tryOnce(locker, key, { ttlMs: ctx.timing.longTtlMs, mode })
  if (intruder !== null) await intruder.release()
  ensure(
    intruder === null,
    `${what}: another driver's ${mode} tryAcquire got the key (fence ${intruder?.fence})`,
  )
}

/** Polls another driver's one attempt until it gets `key` (then releases it), within `timeoutMs`. */
export async function expectFreeWithin(
  locker: Locker,
  key: string,
  timeoutMs: number,
  what: string,
): Promise<LockHandle> {
  return waitFor(() => tryOnce(locker, key), { timeoutMs, intervalMs: 10, message: what })
}

/**
 * Makes the backend lose `lock` (namespaced key) without its owner releasing it: lease backends by letting
 * it expire (the lease must have a short TTL and no renewal), session backends through
 * `faults.dropLock`. Skips the check when neither applies.
 */
export async function loseLease(ctx: CheckContext, lock: DroppableLock): Promise<void> {
  if (ctx.caps.expiry === 'lease') return
  const dropLock = ctx.env.options.faults?.dropLock
  if (dropLock === undefined) {
    ctx.skip(
      "capabilities.expiry is 'session' (live sessions keep their locks) and no faults.dropLock given",
    )
  }
  const { key, owner, fence, mode } = lock
  await dropLock(mode === undefined || mode === 'exclusive' ? { key, owner, fence } : lock)
}

/** The time a contender may wait for a lease lost through `loseLease` to be free. */
export function lossWaitMs(ctx: CheckContext): number {
  return ctx.timing.shortTtlMs + 2 * ctx.timing.slackMs
}

/** Fails unless `fences` strictly increase. */
export function expectIncreasing(fences: readonly bigint[], what: string): void {
  for (let i = 1; i < fences.length; i++) {
    const prev = fences[i - 1] as bigint
    const cur = fences[i] as bigint
    ensure(cur > prev, `${what}: fence ${cur} after ${prev} (sequence ${fences.join(', ')})`)
  }
}
