import { type Clock, systemClock, type TimerHandle } from './clock.js'
import type { DriverLease, LockInfo, LockMode, RenewResult } from './driver.js'
import { LockLimitMismatchError } from './errors.js'
import { LOSS_STATE, LOSS_WATCH, type LossNotifier } from './lease-loss.js'

/**
 * The lease of one grant, with a `lost` signal made on first read: most leases are released
 * without anyone listening, and an AbortSignal is the costliest part of a grant. Core's
 * held lock asks it through `LossNotifier` and so never makes the signal itself.
 */
class StoreLease implements DriverLease, LossNotifier {
  readonly key: string
  readonly owner: string
  readonly fence: bigint
  readonly ttlMs: number
  readonly sentAtMs: number
  #controller: AbortController | undefined
  #reason: Error | undefined
  #onLost: ((reason: unknown) => void) | undefined

  constructor(key: string, owner: string, fence: bigint, ttlMs: number, sentAtMs: number) {
    this.key = key
    this.owner = owner
    this.fence = fence
    this.ttlMs = ttlMs
    this.sentAtMs = sentAtMs
  }

  get lost(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController()
      if (this.#reason !== undefined) this.#controller.abort(this.#reason)
    }
    return this.#controller.signal
  }

  [LOSS_STATE](): boolean {
    return this.#reason !== undefined
  }

  [LOSS_WATCH](onLost: ((reason: unknown) => void) | undefined): void {
    this.#onLost = onLost
  }

  /** Aborts `lost` with `reason` (first call wins). */
  abort(reason: Error): void {
    if (this.#reason !== undefined) return
    this.#reason = reason
    this.#controller?.abort(reason)
    const onLost = this.#onLost
    this.#onLost = undefined
    onLost?.(reason)
  }
}

/** One grant of a resource: the exclusive holder, one shared holder, or one semaphore permit. */
interface Holder {
  readonly owner: string
  readonly fence: bigint
  readonly mode: LockMode
  readonly value: string | undefined
  readonly client: object
  readonly lease: StoreLease
  expiresAtMs: number
  timer: TimerHandle
}

/** A blocked acquire, granted directly by the release that makes room for it (push, no polling). */
interface Waiter {
  readonly ask: Ask
  readonly settle: (outcome: DriverLease | null | Error) => void
}

/** What a grant needs to know about its request. */
interface Ask {
  readonly owner: string
  readonly ttlMs: number
  readonly mode: LockMode
  readonly limit: number | undefined
  readonly value: string | undefined
  readonly client: object
}

/**
 * A lock (exclusive and shared holders of one key: a read-write lock) or a semaphore (at
 * most `limit` permits). Both keep one FIFO queue: a request is granted at once only when
 * nobody waits before it, and a release grants waiters from the head for as long as the
 * head fits (consecutive readers at the head together, a writer alone).
 */
interface Resource {
  readonly kind: 'lock' | 'semaphore'
  readonly key: string
  readonly holders: Holder[]
  readonly waiters: Waiter[]
  /** Semaphores: the limit the current holders use. */
  limit: number | undefined
}

/** A request as the store sees it; `client` identifies the connection (driver) that made it. */
export interface StoreAcquire {
  readonly client: object
  readonly key: string
  readonly owner: string
  readonly ttlMs: number
  readonly waitMs: number
  /** Default `exclusive`. */
  readonly mode?: LockMode
  /** Semaphore requests: how many holders the semaphore admits. */
  readonly limit?: number
  /** Stored with the grant and returned by `inspect` as `LockInfo.value`. */
  readonly value?: string
  /** Carries the abort signal; read only when the request has to wait. */
  readonly request: { readonly signal: AbortSignal }
}

/**
 * The in-process "server" behind one or more `MemoryDriver`s: per-key FIFO queues across
 * modes, lease expiry per grant by timer on the monotonic clock, and fences that strictly
 * increase per key for the life of the store (kept across releases; one counter per lock
 * key shared by its exclusive and shared grants, another per semaphore key). Drivers
 * sharing a store behave like separate connections to one server: they exclude each other.
 */
export class MemoryStore {
  /** Time source of every lease and wait in this store. */
  readonly clock: Clock
  readonly #locks = new Map<string, Resource>()
  readonly #semaphores = new Map<string, Resource>()
  readonly #lockFences = new Map<string, bigint>()
  readonly #semaphoreFences = new Map<string, bigint>()

  constructor(options: { clock?: Clock } = {}) {
    this.clock = options.clock ?? systemClock
  }

  /**
   * Grants at once when the request fits beside the current holders and no one queues;
   * else queues up to `waitMs`. A semaphore request whose `limit` differs from the current
   * holders' rejects with `LockLimitMismatchError`.
   */
  acquire(req: StoreAcquire): Promise<DriverLease | null> {
    const mode = req.mode ?? 'exclusive'
    const ask: Ask = {
      owner: req.owner,
      ttlMs: req.ttlMs,
      mode,
      limit: req.limit,
      value: req.value,
      client: req.client,
    }
    const res = this.#resourceOf(req.key, mode)
    if (res.kind === 'semaphore') {
      try {
        this.#checkLimit(res, ask)
      } catch (err) {
        this.#forgetIfIdle(res)
        return Promise.reject(err)
      }
    }
    if (res.waiters.length === 0 && fits(res, ask)) {
      // Granted at once, like a single SET NX; core never sends an aborted request.
      return Promise.resolve(this.#grant(res, ask))
    }
    const signal = req.request.signal
    if (req.waitMs <= 0 || signal.aborted) {
      this.#forgetIfIdle(res)
      return Promise.resolve(null)
    }
    return new Promise((resolve, reject) => {
      let timer: TimerHandle | undefined
      const giveUp = () => {
        const at = res.waiters.indexOf(waiter)
        if (at < 0) return
        res.waiters.splice(at, 1)
        waiter.settle(null)
        // A writer that gives up at the head may let the readers behind it in.
        this.#pump(res)
      }
      const waiter: Waiter = {
        ask,
        settle: (outcome) => {
          if (timer !== undefined) this.clock.clearTimeout(timer)
          signal.removeEventListener('abort', giveUp)
          if (outcome instanceof Error) reject(outcome)
          else resolve(outcome)
        },
      }
      res.waiters.push(waiter)
      signal.addEventListener('abort', giveUp, { once: true })
      if (Number.isFinite(req.waitMs)) timer = this.clock.setTimeout(giveUp, req.waitMs)
    })
  }

  /** Extends the lease to `ttlMs` from now if `lease` is still a holder (S2). */
  renew(lease: DriverLease, ttlMs: number): RenewResult {
    const found = this.#find(lease)
    if (found === undefined) return { ok: false }
    const { res, holder } = found
    this.clock.clearTimeout(holder.timer)
    holder.expiresAtMs = this.clock.now() + ttlMs
    holder.timer = this.clock.setTimeout(() => this.#drop(res, holder, 'expired'), ttlMs)
    return { ok: true, ttlMs }
  }

  /** Frees `lease`'s grant if it still holds and lets the next waiters in; false otherwise. */
  release(lease: DriverLease): boolean {
    const found = this.#find(lease)
    if (found === undefined) return false
    this.#remove(found.res, found.holder)
    return true
  }

  /**
   * The lock of `key` (either mode), or with `mode: 'semaphore'` the semaphore named `key`;
   * null when free. For several holders, `owner`, `fence`, `value` and `ttlRemainingMs`
   * are the longest-held one's; `holders` counts them all.
   */
  inspect(key: string, mode?: LockMode): LockInfo | null {
    const res = mode === 'semaphore' ? this.#semaphores.get(key) : this.#locks.get(key)
    const first = res?.holders[0]
    if (res === undefined || first === undefined) return null
    const ttlRemainingMs = Math.max(0, Math.ceil(first.expiresAtMs - this.clock.now()))
    return {
      held: true,
      fence: first.fence,
      ttlRemainingMs,
      owner: first.owner,
      mode: first.mode,
      holders: res.holders.length,
      ...(res.limit === undefined ? {} : { limit: res.limit }),
      ...(first.value === undefined ? {} : { value: first.value }),
    }
  }

  /** Every held lock key starting with `prefix` (semaphores are not listed). */
  list(prefix: string): Array<LockInfo & { readonly key: string }> {
    const out: Array<LockInfo & { readonly key: string }> = []
    for (const key of this.#locks.keys()) {
      const info = key.startsWith(prefix) ? this.inspect(key) : null
      if (info !== null) out.push({ key, ...info })
    }
    return out
  }

  /**
   * Frees a grant whoever holds it, as a server-side drop would (eviction, admin kill),
   * and aborts its `lost` signal unless `notify` is false (silent loss, found only by the
   * next renewal). With `owner`, only that owner's grant is dropped, on the lock of `key`
   * or, failing that, on the semaphore of `key`; without it, every holder of the lock
   * (or of the semaphore, with `mode: 'semaphore'`).
   */
  drop(
    key: string,
    options: { owner?: string; reason?: string; notify?: boolean; mode?: LockMode } = {},
  ): boolean {
    const reason = options.reason ?? 'dropped'
    const notify = options.notify ?? true
    const resources =
      options.owner !== undefined
        ? [this.#locks.get(key), this.#semaphores.get(key)]
        : [options.mode === 'semaphore' ? this.#semaphores.get(key) : this.#locks.get(key)]
    for (const res of resources) {
      if (res === undefined) continue
      const victims = res.holders.filter(
        (h) => options.owner === undefined || h.owner === options.owner,
      )
      if (victims.length === 0) continue
      for (const holder of victims) this.#drop(res, holder, reason, notify)
      return true
    }
    return false
  }

  /** Releases every grant `client` holds, aborting their `lost` signals, and ends its waits (a connection closing). */
  disconnect(client: object): void {
    for (const res of [...this.#locks.values(), ...this.#semaphores.values()]) {
      for (const waiter of res.waiters.filter((w) => w.ask.client === client)) {
        res.waiters.splice(res.waiters.indexOf(waiter), 1)
        waiter.settle(null)
      }
      for (const holder of res.holders.filter((h) => h.client === client)) {
        this.#drop(res, holder, 'released: its driver closed')
      }
      this.#pump(res)
    }
  }

  /** Number of lock and semaphore keys with a holder or a waiter (tests, H1). */
  get activeKeyCount(): number {
    return this.#locks.size + this.#semaphores.size
  }

  #checkLimit(res: Resource, ask: Ask): void {
    if (res.kind !== 'semaphore') return
    const limit = ask.limit
    if (limit === undefined || !Number.isInteger(limit) || limit < 1) {
      throw new RangeError(`memory: a semaphore request needs an integer limit >= 1, got ${limit}`)
    }
    if (res.holders.length > 0 && res.limit !== undefined && res.limit !== limit) {
      throw new LockLimitMismatchError(res.key, limit, res.limit)
    }
  }

  #grant(res: Resource, ask: Ask): DriverLease {
    const fences = res.kind === 'lock' ? this.#lockFences : this.#semaphoreFences
    const fence = (fences.get(res.key) ?? 0n) + 1n
    fences.set(res.key, fence)
    const sentAtMs = this.clock.now()
    const lease = new StoreLease(res.key, ask.owner, fence, ask.ttlMs, sentAtMs)
    const holder: Holder = {
      owner: ask.owner,
      fence,
      mode: ask.mode,
      value: ask.value,
      client: ask.client,
      lease,
      expiresAtMs: sentAtMs + ask.ttlMs,
      timer: this.clock.setTimeout(() => this.#drop(res, holder, 'expired'), ask.ttlMs),
    }
    res.holders.push(holder)
    if (res.kind === 'semaphore') res.limit = ask.limit
    return lease
  }

  #drop(res: Resource, holder: Holder, reason: string, notify = true): void {
    if (!res.holders.includes(holder)) return
    this.#remove(res, holder)
    if (notify) {
      const what = res.kind === 'lock' ? 'lock' : 'semaphore permit of'
      holder.lease.abort(new Error(`memory ${what} "${res.key}" ${reason}`))
    }
  }

  /** Removes a holder and grants the waiters that now fit, directly. */
  #remove(res: Resource, holder: Holder): void {
    const at = res.holders.indexOf(holder)
    if (at < 0) return
    this.clock.clearTimeout(holder.timer)
    res.holders.splice(at, 1)
    if (res.holders.length === 0) res.limit = undefined
    this.#pump(res)
  }

  /** Grants waiters from the head of the queue for as long as the head fits (FIFO across modes). */
  #pump(res: Resource): void {
    for (;;) {
      const head = res.waiters[0]
      if (head === undefined) break
      try {
        this.#checkLimit(res, head.ask)
      } catch (err) {
        res.waiters.shift()
        head.settle(err as Error)
        continue
      }
      if (!fits(res, head.ask)) break
      res.waiters.shift()
      head.settle(this.#grant(res, head.ask))
    }
    this.#forgetIfIdle(res)
  }

  /** The grant `lease` names, on the lock or the semaphore of its key (owner ids are unique). */
  #find(lease: DriverLease): { res: Resource; holder: Holder } | undefined {
    return (
      holderIn(this.#locks.get(lease.key), lease) ??
      holderIn(this.#semaphores.get(lease.key), lease)
    )
  }

  #resourceOf(key: string, mode: LockMode): Resource {
    const kind = mode === 'semaphore' ? 'semaphore' : 'lock'
    const map = kind === 'lock' ? this.#locks : this.#semaphores
    let res = map.get(key)
    if (res === undefined) {
      res = { kind, key, holders: [], waiters: [], limit: undefined }
      map.set(key, res)
    }
    return res
  }

  #forgetIfIdle(res: Resource): void {
    if (res.holders.length > 0 || res.waiters.length > 0) return
    const map = res.kind === 'lock' ? this.#locks : this.#semaphores
    if (map.get(res.key) === res) map.delete(res.key)
  }
}

/** Whether `ask` may hold `res` beside its current holders. */
function fits(res: Resource, ask: Ask): boolean {
  if (res.kind === 'semaphore') return res.holders.length < (ask.limit ?? 1)
  if (ask.mode === 'exclusive') return res.holders.length === 0
  return res.holders.every((h) => h.mode === 'shared')
}

/** The grant of `res` that `lease` names (owner ids are unique), with its resource. */
function holderIn(
  res: Resource | undefined,
  lease: DriverLease,
): { res: Resource; holder: Holder } | undefined {
  if (res === undefined) return undefined
  for (const holder of res.holders) {
    if (holder.owner === lease.owner && holder.fence === lease.fence) return { res, holder }
  }
  return undefined
}
