import type { Clock } from './clock.js'
import type { DriverLease, LockDriver } from './driver.js'
import type { RenewalSchedule, RenewalTarget, RenewOutcome } from './renewal-target.js'
import type { DueEntry, TimerQueue } from './timer-queue.js'

/** One `driver.renew` call whose failure becomes an outcome instead of a rejection. */
export async function renewOne(
  driver: LockDriver,
  lease: DriverLease,
  ttlMs: number,
): Promise<RenewOutcome> {
  try {
    return await driver.renew(lease, ttlMs)
  } catch (error) {
    return { error }
  }
}

async function renewBatch(
  driver: LockDriver,
  leases: DriverLease[],
  ttlMs: number,
): Promise<RenewOutcome[]> {
  if (driver.renewMany === undefined) {
    return Promise.all(leases.map((lease) => renewOne(driver, lease, ttlMs)))
  }
  try {
    const results = await driver.renewMany(leases, ttlMs)
    if (results.length === leases.length) return results
    const error = new Error(
      `renewMany returned ${results.length} results for ${leases.length} leases`,
    )
    return leases.map(() => ({ error }))
  } catch (error) {
    return leases.map(() => ({ error }))
  }
}

/**
 * The renewal schedule of a Locker, one entry in its timer queue. It wakes at the earliest
 * time any handle needs attention, expires or suspends handles, and renews every due
 * handle in one batch per TTL (one `renewMany` call when the driver has it), so 10,000
 * locks cost one timer and a few round trips per interval, not one per lock.
 */
export class Renewer implements RenewalSchedule, DueEntry {
  readonly #clock: Clock
  readonly #driver: LockDriver
  readonly #timers: TimerQueue
  readonly #track: (work: Promise<unknown>) => void
  readonly #handles = new Set<RenewalTarget>()
  dueAtMs = Number.POSITIVE_INFINITY
  dueIndex = -1
  dueSeq = 0

  /** `track` receives each batch so that `close()` can wait for renewals in flight. */
  constructor(
    clock: Clock,
    driver: LockDriver,
    timers: TimerQueue,
    track: (work: Promise<unknown>) => void,
  ) {
    this.#clock = clock
    this.#driver = driver
    this.#timers = timers
    this.#track = track
  }

  /** Number of handles watched (tests, H1). */
  get size(): number {
    return this.#handles.size
  }

  add(handle: RenewalTarget): void {
    this.#handles.add(handle)
    this.reschedule(handle)
  }

  /**
   * Forgets `handle`. The wake-up stays scheduled even when no handle is left: it fires
   * once, finds nothing and stops, which is cheaper than a cancel and a re-schedule per
   * acquire-release cycle. The timer never keeps the process alive, and `stop()` clears it.
   */
  delete(handle: RenewalTarget): void {
    this.#handles.delete(handle)
  }

  /** Brings the wake-up forward if `handle` needs attention sooner than planned. */
  reschedule(handle: RenewalTarget): void {
    if (!this.#handles.has(handle)) return
    const atMs = handle.wakeAtMs()
    if (atMs < this.#armedAtMs()) this.#timers.schedule(this, atMs)
  }

  /** Cancels the wake-up and forgets every handle. */
  stop(): void {
    this.#handles.clear()
    this.#timers.cancel(this)
  }

  /** When the wake-up is scheduled for; Infinity when it is not. */
  #armedAtMs(): number {
    return this.dueIndex >= 0 ? this.dueAtMs : Number.POSITIVE_INFINITY
  }

  /** The timer queue's call: the planned wake-up is now. */
  onDue(): void {
    const nowMs = this.#clock.now()
    const due = new Map<number, RenewalTarget[]>()
    for (const handle of this.#handles) {
      handle.checkTime(nowMs)
      if (!handle.isRenewalDue(nowMs)) continue
      const group = due.get(handle.ttlMs)
      if (group === undefined) due.set(handle.ttlMs, [handle])
      else group.push(handle)
    }
    for (const [ttlMs, group] of due) this.#renew(group, ttlMs)
    let nextMs = Number.POSITIVE_INFINITY
    for (const handle of this.#handles) nextMs = Math.min(nextMs, handle.wakeAtMs())
    if (nextMs < this.#armedAtMs()) this.#timers.schedule(this, nextMs)
  }

  #renew(group: RenewalTarget[], ttlMs: number): void {
    const sentAtMs = this.#clock.now()
    const done = renewBatch(
      this.#driver,
      group.map((h) => h.lease),
      ttlMs,
    ).then((outcomes) => {
      group.forEach((handle, i) => {
        handle.applyRenewal(sentAtMs, outcomes[i] ?? { error: new Error('missing renewal result') })
      })
    })
    for (const handle of group) handle.renewing(done)
    this.#track(done)
  }
}
