import { takesSlot } from './attempt.js'
import { toBackendError } from './backend-error.js'
import type { DriverLease, LockMode } from './driver.js'
import { LockClosedError, LockLostError, type LockLostReason } from './errors.js'
import type { HandleHost, HeldLockGrant, HostedLock } from './handle-host.js'
import { LOSS_STATE, LOSS_WATCH, type LossNotifier, lossNotifierOf } from './lease-loss.js'
import { LeaseTiming, validUntilOf } from './lease-timing.js'
import type { LockHandle, LockState } from './lock-handle.js'
import type { RenewalTarget, RenewOutcome } from './renewal-target.js'
import { renewOne } from './renewer.js'
import { checkTtl } from './validate.js'

function noop(): void {}

/**
 * A held lock's state inside core. Validity moves only on a confirming reply; `lost` and
 * `released` are final (S6); every validity read checks the clock synchronously (S7).
 * Users never see this object: the Locker hands out a `HandleView` of it, which shows
 * only the documented `LockHandle` members.
 */
export class HeldLock implements LockHandle, RenewalTarget, HostedLock {
  readonly key: string
  /** The namespaced key whose in-process slot this handle holds; undefined for shared and semaphore grants. */
  readonly slotKey: string | undefined
  readonly mode: LockMode
  readonly owner: string
  readonly fence: bigint
  readonly lease: DriverLease
  /** False when the Locker has `renew: false`: the lock lapses at `validUntil` unless extended. */
  readonly renews: boolean
  readonly #host: HandleHost
  /** Made on first read of `signal`: most handles are released without anyone listening. */
  #controller: AbortController | undefined
  readonly #acquiredAtMs: number
  #state: LockState = 'held'
  /** TTL asked for on each renewal. */
  #ttlMs: number
  readonly #timing: LeaseTiming
  #inFlight: Promise<void> | undefined
  #lastError: unknown
  #lostError: LockLostError | undefined
  /** The final work once lost or released; never rejects. */
  #settled: Promise<void> | undefined
  /** The first `release()`'s work; rejects with its backend error. */
  #releasing: Promise<void> | undefined
  /** The lease's own loss state, when core's kit made it (no `lost` signal needed). */
  readonly #notifier: LossNotifier | undefined
  /** Listening to the lease's loss; see `watchLoss()`. */
  #watching = false
  /** The `abort` listener on `lease.lost` of a lease without a notifier, while watching. */
  #onAbort: (() => void) | undefined

  constructor(host: HandleHost, grant: HeldLockGrant) {
    const { key, fullKey, mode, lease, ttlMs, renews } = grant
    this.#host = host
    this.key = key
    this.mode = mode
    this.slotKey = takesSlot(mode) ? fullKey : undefined
    this.lease = lease
    this.#notifier = lossNotifierOf(lease)
    this.owner = lease.owner
    this.fence = lease.fence
    this.renews = renews
    this.#ttlMs = ttlMs
    this.#acquiredAtMs = host.listening ? host.clock.now() : 0
    this.#timing = new LeaseTiming(lease.sentAtMs, lease.ttlMs)
  }

  /** Starts the handle's life: the Locker's timer, and the loss signal if events are listened to. */
  start(): void {
    this.#host.renewer.add(this)
    if (this.#host.listening) this.watchLoss()
    // Only the clock here: reading `lease.lost` may make the driver build a signal nobody needs.
    if (this.#host.clock.now() >= this.#timing.validUntilMs) this.#lose('expired')
  }

  /**
   * Listens to the driver's `lease.lost` so that loss is acted on at once (N2). Done only
   * when someone can observe it at once: a reader of `signal`, an event listener, or an
   * acquire queued behind this handle in process. Adding and removing an AbortSignal
   * listener is the largest single cost of a short lock; without one, every synchronous
   * check (`isValid`, `state`, ...) still reads the lease's loss. A lease from core's kit
   * (`LeaseBook`, `MemoryStore`) is asked directly, so its `lost` signal is never made.
   */
  watchLoss(): void {
    if (this.#watching || !this.#active()) return
    if (this.#leaseLost()) {
      this.#lose('driver', this.lease.lost.reason)
      return
    }
    this.#watching = true
    const notifier = this.#notifier
    if (notifier !== undefined) {
      notifier[LOSS_WATCH]((reason) => this.#lose('driver', reason))
      return
    }
    const lost = this.lease.lost
    this.#onAbort = () => this.#lose('driver', lost.reason)
    lost.addEventListener('abort', this.#onAbort, { once: true })
  }

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController()
      if (this.#lostError !== undefined) this.#controller.abort(this.#lostError)
      else this.watchLoss()
    }
    return this.#controller.signal
  }

  get state(): LockState {
    this.#look()
    return this.#state
  }

  /** TTL each renewal asks for, in ms. */
  get ttlMs(): number {
    return this.#ttlMs
  }

  validForMs(): number {
    return this.isValid() ? Math.max(0, this.#timing.validUntilMs - this.#host.clock.now()) : 0
  }

  isValid(): boolean {
    this.#look()
    return this.#state === 'held' || this.#state === 'suspended'
  }

  assertValid(): void {
    if (this.isValid()) return
    throw this.#lostError ?? new LockClosedError(this.key, `lock "${this.key}" was released`)
  }

  async extend(ttlMs?: number): Promise<void> {
    if (ttlMs !== undefined) checkTtl(ttlMs, this.#host.driver.capabilities.ttlResolutionMs)
    this.assertValid()
    while (this.#inFlight !== undefined) {
      await this.#inFlight
      this.assertValid()
    }
    if (ttlMs !== undefined) this.#ttlMs = ttlMs
    const sentAtMs = this.#host.clock.now()
    const outcome = renewOne(this.#host.driver, this.lease, this.#ttlMs)
    const applied = outcome.then((o) => this.applyRenewal(sentAtMs, o))
    this.#inFlight = applied
    const result = await outcome
    await applied
    this.assertValid()
    if ('error' in result) throw toBackendError(this.#host.driver.name, result.error, this.key)
  }

  release(): Promise<void> {
    if (this.#settled !== undefined) return this.#settled
    if (this.#releasing !== undefined) {
      // A second release (or close) waits for the first, but never sees its error.
      this.#settled = this.#releasing.then(noop, noop)
      return this.#settled
    }
    this.#state = 'released'
    this.#detach()
    this.#releasing = this.#releaseNow()
    return this.#releasing
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.release()
  }

  /** Renewal may be sent now: active, not in flight, and inside its batching window. */
  isRenewalDue(nowMs: number): boolean {
    return (
      this.renews &&
      this.#inFlight === undefined &&
      this.#active() &&
      nowMs >= this.#timing.earliestRenewAtMs
    )
  }

  /** The next time the Locker's timer must look at this handle; Infinity when final. */
  wakeAtMs(): number {
    if (!this.#active()) return Number.POSITIVE_INFINITY
    return this.#timing.wakeAtMs(this.renews, this.#inFlight !== undefined, this.#state === 'held')
  }

  /**
   * Loses the handle at `validUntil` (S7) and suspends it once a confirmation is overdue
   * (N4). The clock only: the Locker's timer calls it for every handle, and reading
   * `lease.lost` may make a driver build a signal for each.
   */
  checkTime(nowMs: number): void {
    if (!this.#active()) return
    if (nowMs >= this.#timing.validUntilMs) this.#lose('expired', this.#lastError)
    else if (this.renews && this.#state === 'held' && nowMs >= this.#timing.suspendAtMs) {
      this.#suspend()
    }
  }

  /** Marks a renewal as sent; `done` settles (never rejects) after `applyRenewal`. */
  renewing(done: Promise<void>): void {
    this.#inFlight = done
  }

  /** Applies a renewal sent at `sentAtMs`: validity moves only on `{ ok: true }`. */
  applyRenewal(sentAtMs: number, outcome: RenewOutcome): void {
    this.#inFlight = undefined
    if (!this.#active()) return
    const nowMs = this.#host.clock.now()
    this.checkTime(nowMs)
    if (!this.#active()) return
    if ('error' in outcome) {
      this.#lastError = outcome.error
      this.#timing.retry(nowMs, this.#ttlMs)
      this.#suspend()
    } else if (!outcome.ok) {
      if (this.#leaseLost()) this.#lose('driver', this.lease.lost.reason)
      else this.#lose('server')
      return
    } else {
      const validUntilMs = validUntilOf(sentAtMs, outcome.ttlMs)
      if (validUntilMs <= nowMs) {
        this.#lose('expired')
        return
      }
      this.#lastError = undefined
      this.#timing.confirm(sentAtMs, outcome.ttlMs)
      this.#state = 'held'
      this.#emit('renewed')
    }
    this.#host.renewer.reschedule(this)
  }

  /** Final: aborts `signal` with a `LockLostError`, then frees the key slot in the background. */
  #lose(reason: LockLostReason, cause?: unknown): void {
    if (!this.#active()) return
    this.#state = 'lost'
    const error = new LockLostError(this.key, this.fence, reason, cause)
    this.#lostError = error
    this.#detach()
    this.#settled = this.#cleanUpLost(reason)
    this.#controller?.abort(error)
    if (!this.#host.listening) return
    this.#host.emit({
      type: 'lost',
      key: this.key,
      mode: this.mode,
      atMs: this.#host.clock.now(),
      fence: this.fence,
      heldMs: this.#heldMs(),
      error,
    })
  }

  async #cleanUpLost(reason: LockLostReason): Promise<void> {
    try {
      if (this.#inFlight !== undefined) await this.#inFlight
      // After silent expiry, or a loss the driver saw (a restarted server that restored the
      // key from its log, a dead session), the backend may still have it for us: free it,
      // owner-checked (S2), for the next holder. A 'server' loss already said it is not ours.
      if (reason !== 'server') await this.#host.driver.release(this.lease)
    } catch {
      // The lock is gone or the backend is down; its TTL frees it either way.
    } finally {
      this.#host.finish(this)
    }
  }

  async #releaseNow(): Promise<void> {
    let error: Error | undefined
    try {
      if (this.#inFlight !== undefined) await this.#inFlight
      await this.#host.driver.release(this.lease)
    } catch (err) {
      error = toBackendError(this.#host.driver.name, err, this.key)
    } finally {
      this.#host.finish(this)
    }
    this.#emit('released')
    if (error !== undefined) throw error
  }

  /** What every synchronous read does: the driver's loss signal, then the clock (S7). */
  #look(): void {
    if (this.#active() && this.#leaseLost()) this.#lose('driver', this.lease.lost.reason)
    this.checkTime(this.#host.clock.now())
  }

  #suspend(): void {
    if (this.#state !== 'held') return
    this.#state = 'suspended'
    this.#emit('suspended')
  }

  #detach(): void {
    if (this.#watching) {
      this.#watching = false
      if (this.#notifier !== undefined) this.#notifier[LOSS_WATCH](undefined)
      else if (this.#onAbort !== undefined)
        this.lease.lost.removeEventListener('abort', this.#onAbort)
    }
    this.#host.renewer.delete(this)
  }

  /**
   * Whether the driver has marked the lease lost: asked of the lease itself when core's kit
   * made it, else read from `lease.lost` (which may make the driver build that signal).
   */
  #leaseLost(): boolean {
    const notifier = this.#notifier
    return notifier === undefined ? this.lease.lost.aborted : notifier[LOSS_STATE]()
  }

  #active(): boolean {
    return this.#state === 'held' || this.#state === 'suspended'
  }

  #heldMs(): number {
    return this.#host.clock.now() - this.#acquiredAtMs
  }

  #emit(type: 'renewed' | 'suspended' | 'released'): void {
    if (!this.#host.listening) return
    this.#host.emit({
      type,
      key: this.key,
      mode: this.mode,
      atMs: this.#host.clock.now(),
      fence: this.fence,
      heldMs: this.#heldMs(),
    })
  }
}
