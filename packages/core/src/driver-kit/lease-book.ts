import type { DriverLease } from '../driver.js'
import { LOSS_STATE, LOSS_WATCH, type LossNotifier } from '../lease-loss.js'

/** What the backend granted, as a driver reports it to `LeaseBook.grant`. */
export interface Grant {
  /** Fencing token from the backend (S3). */
  readonly fence: bigint
  /** The lease length the backend granted, in ms. */
  readonly ttlMs: number
  /** Monotonic time (`performance.now()`) taken just before sending the confirming request. */
  readonly sentAtMs: number
}

/** One lease the book holds, with the driver's own data about it (session, key names, ...). */
export interface BookEntry<T> {
  readonly lease: DriverLease
  /** The driver's per-lease data given to `grant`. */
  readonly data: T
}

/**
 * A `DriverLease` whose `lost` signal is made on first read: most leases are released
 * without anybody listening, and an `AbortController` per grant shows in profiles. Core's
 * held lock asks it through `LossNotifier` and so never makes the signal itself.
 */
class BookLease implements DriverLease, LossNotifier {
  readonly key: string
  readonly owner: string
  readonly fence: bigint
  readonly ttlMs: number
  readonly sentAtMs: number
  #controller: AbortController | undefined
  #reason: unknown
  #lost = false
  #onLost: ((reason: unknown) => void) | undefined

  constructor(key: string, owner: string, grant: Grant) {
    this.key = key
    this.owner = owner
    this.fence = grant.fence
    this.ttlMs = grant.ttlMs
    this.sentAtMs = grant.sentAtMs
  }

  get lost(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController()
      if (this.#lost) this.#controller.abort(this.#reason)
    }
    return this.#controller.signal
  }

  [LOSS_STATE](): boolean {
    return this.#lost
  }

  [LOSS_WATCH](onLost: ((reason: unknown) => void) | undefined): void {
    this.#onLost = onLost
  }

  /** Aborts `lost` with `reason` (first call wins). */
  lose(reason: unknown): void {
    if (this.#lost) return
    this.#lost = true
    this.#reason = reason
    this.#controller?.abort(reason)
    const onLost = this.#onLost
    this.#onLost = undefined
    onLost?.(reason)
  }
}

/**
 * The leases a driver granted and has not seen released: one place to find a lease's
 * data, to abort `lost` on server evidence of loss (N2: one lease, a predicate such as
 * "every lease on this session", or all), and to hand every lease back on close (H1).
 * Leases are matched by owner and key, so a stale lease object can never reach another
 * owner's entry (S2).
 */
export class LeaseBook<T = undefined> {
  readonly #byOwner = new Map<string, { readonly lease: BookLease; readonly data: T }>()

  /** How many leases are held. */
  get size(): number {
    return this.#byOwner.size
  }

  /** Records a grant for `req` and returns its lease; the driver returns it from `acquire`. */
  grant(req: { readonly key: string; readonly owner: string }, grant: Grant, data: T): DriverLease {
    const lease = new BookLease(req.key, req.owner, grant)
    this.#byOwner.set(req.owner, { lease, data })
    return lease
  }

  /** The live entry of `lease`, matched by owner and key; undefined once released or lost. */
  get(lease: DriverLease): BookEntry<T> | undefined {
    const entry = this.#byOwner.get(lease.owner)
    return entry !== undefined && entry.lease.key === lease.key ? entry : undefined
  }

  /** Removes `lease` without aborting it (a release) and returns its entry. */
  forget(lease: DriverLease): BookEntry<T> | undefined {
    const entry = this.get(lease)
    if (entry !== undefined) this.#byOwner.delete(lease.owner)
    return entry
  }

  /** Removes `lease` and aborts its `lost` signal with `reason`; false when it was not held. */
  lose(lease: DriverLease, reason: unknown): boolean {
    const entry = this.#byOwner.get(lease.owner)
    if (entry === undefined || entry.lease.key !== lease.key) return false
    this.#byOwner.delete(lease.owner)
    entry.lease.lose(reason)
    return true
  }

  /** Loses every lease whose entry matches `test` (e.g. all leases of one session); returns how many. */
  loseWhere(test: (entry: BookEntry<T>) => boolean, reason: unknown): number {
    const gone = [...this.#byOwner.values()].filter(test)
    for (const entry of gone) this.#byOwner.delete(entry.lease.owner)
    for (const entry of gone) entry.lease.lose(reason)
    return gone.length
  }

  /** Loses every lease (e.g. the server restarted); returns how many. */
  loseAll(reason: unknown): number {
    return this.loseWhere(() => true, reason)
  }

  /**
   * Removes every entry matching `test` without aborting it (e.g. leases whose time ran out
   * unrenewed, which core already treats as lost); returns how many.
   */
  forgetWhere(test: (entry: BookEntry<T>) => boolean): number {
    const gone = [...this.#byOwner.values()].filter(test)
    for (const entry of gone) this.#byOwner.delete(entry.lease.owner)
    return gone.length
  }

  /** Removes and returns every entry without aborting them (close releases them). */
  drain(): BookEntry<T>[] {
    const all = [...this.#byOwner.values()]
    this.#byOwner.clear()
    return all
  }

  /** Every live entry, in grant order. */
  entries(): IterableIterator<BookEntry<T>> {
    return this.#byOwner.values()
  }
}
