import { type Clock, systemClock, type TimerHandle } from './clock.js'
import type { DriverLease, LockInfo, RenewResult } from './driver.js'

/**
 * The `lost` signal of one grant, made on first read: most leases are released without
 * anyone listening, and an AbortSignal is the costliest part of a grant.
 */
class LossNotice {
  #controller: AbortController | undefined
  #reason: Error | undefined

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController()
      if (this.#reason !== undefined) this.#controller.abort(this.#reason)
    }
    return this.#controller.signal
  }

  abort(reason: Error): void {
    if (this.#reason !== undefined) return
    this.#reason = reason
    this.#controller?.abort(reason)
  }
}

/** The lock a key currently has. */
interface Holder {
  readonly owner: string
  readonly fence: bigint
  readonly client: object
  readonly loss: LossNotice
  expiresAtMs: number
  timer: TimerHandle
}

/** A blocked acquire, granted directly by the release that frees the key (push, no polling). */
interface Waiter {
  readonly owner: string
  readonly ttlMs: number
  readonly client: object
  readonly settle: (lease: DriverLease | null) => void
}

interface KeyState {
  holder: Holder | undefined
  readonly waiters: Waiter[]
}

/** A request as the store sees it; `client` identifies the connection (driver) that made it. */
export interface StoreAcquire {
  readonly client: object
  readonly key: string
  readonly owner: string
  readonly ttlMs: number
  readonly waitMs: number
  /** Carries the abort signal; read only when the request has to wait. */
  readonly request: { readonly signal: AbortSignal }
}

/**
 * The in-process "server" behind one or more `MemoryDriver`s: per-key FIFO queues, lease
 * expiry by timer on the monotonic clock, and fences that strictly increase per key for
 * the life of the store (kept across releases). Drivers sharing a store behave like
 * separate connections to one server: they exclude each other.
 */
export class MemoryStore {
  /** Time source of every lease and wait in this store. */
  readonly clock: Clock
  readonly #keys = new Map<string, KeyState>()
  readonly #fences = new Map<string, bigint>()

  constructor(options: { clock?: Clock } = {}) {
    this.clock = options.clock ?? systemClock
  }

  /** Grants at once when the key is free and no one queues; else queues up to `waitMs`. */
  acquire(req: StoreAcquire): Promise<DriverLease | null> {
    const state = this.#stateOf(req.key)
    if (state.holder === undefined && state.waiters.length === 0) {
      // A free key is granted at once, like a single SET NX; core never sends an aborted request.
      return Promise.resolve(this.#grant(req.key, state, req.owner, req.ttlMs, req.client))
    }
    const signal = req.request.signal
    if (req.waitMs <= 0 || signal.aborted) {
      this.#forgetIfIdle(req.key, state)
      return Promise.resolve(null)
    }
    return new Promise((resolve) => {
      let timer: TimerHandle | undefined
      const giveUp = () => {
        const at = state.waiters.indexOf(waiter)
        if (at < 0) return
        state.waiters.splice(at, 1)
        waiter.settle(null)
        this.#forgetIfIdle(req.key, state)
      }
      const waiter: Waiter = {
        owner: req.owner,
        ttlMs: req.ttlMs,
        client: req.client,
        settle: (lease) => {
          if (timer !== undefined) this.clock.clearTimeout(timer)
          signal.removeEventListener('abort', giveUp)
          resolve(lease)
        },
      }
      state.waiters.push(waiter)
      signal.addEventListener('abort', giveUp, { once: true })
      if (Number.isFinite(req.waitMs)) timer = this.clock.setTimeout(giveUp, req.waitMs)
    })
  }

  /** Extends the lease to `ttlMs` from now if `lease` is still the holder (S2). */
  renew(lease: DriverLease, ttlMs: number): RenewResult {
    const holder = this.#holderOf(lease)
    if (holder === undefined) return { ok: false }
    this.clock.clearTimeout(holder.timer)
    holder.expiresAtMs = this.clock.now() + ttlMs
    holder.timer = this.clock.setTimeout(() => this.#drop(lease.key, 'expired'), ttlMs)
    return { ok: true, ttlMs }
  }

  /** Frees the key if `lease` still holds it and hands it to the next waiter; false otherwise. */
  release(lease: DriverLease): boolean {
    if (this.#holderOf(lease) === undefined) return false
    this.#free(lease.key)
    return true
  }

  /** The key's holder, or null when free. */
  inspect(key: string): LockInfo | null {
    const holder = this.#keys.get(key)?.holder
    if (holder === undefined) return null
    const ttlRemainingMs = Math.max(0, Math.ceil(holder.expiresAtMs - this.clock.now()))
    return { held: true, fence: holder.fence, ttlRemainingMs, owner: holder.owner }
  }

  /** Every held key starting with `prefix`. */
  list(prefix: string): Array<LockInfo & { readonly key: string }> {
    const out: Array<LockInfo & { readonly key: string }> = []
    for (const key of this.#keys.keys()) {
      const info = key.startsWith(prefix) ? this.inspect(key) : null
      if (info !== null) out.push({ key, ...info })
    }
    return out
  }

  /**
   * Frees the key whoever holds it, as a server-side drop would (eviction, admin kill),
   * and aborts the holder's `lost` signal unless `notify` is false (silent loss, found
   * only by the next renewal). With `owner`, only that owner's lock is dropped.
   */
  drop(key: string, options: { owner?: string; reason?: string; notify?: boolean } = {}): boolean {
    const holder = this.#keys.get(key)?.holder
    if (holder === undefined) return false
    if (options.owner !== undefined && holder.owner !== options.owner) return false
    this.#drop(key, options.reason ?? 'dropped', options.notify ?? true)
    return true
  }

  /** Releases every lock `client` holds, aborting their `lost` signals, and ends its waits (a connection closing). */
  disconnect(client: object): void {
    for (const [key, state] of [...this.#keys]) {
      for (const waiter of state.waiters.filter((w) => w.client === client)) {
        state.waiters.splice(state.waiters.indexOf(waiter), 1)
        waiter.settle(null)
      }
      if (state.holder?.client === client) this.#drop(key, 'released: its driver closed')
      else this.#forgetIfIdle(key, state)
    }
  }

  /** Number of keys with a holder or a waiter (tests, H1). */
  get activeKeyCount(): number {
    return this.#keys.size
  }

  #grant(key: string, state: KeyState, owner: string, ttlMs: number, client: object): DriverLease {
    const fence = (this.#fences.get(key) ?? 0n) + 1n
    this.#fences.set(key, fence)
    const sentAtMs = this.clock.now()
    const loss = new LossNotice()
    const timer = this.clock.setTimeout(() => this.#drop(key, 'expired'), ttlMs)
    state.holder = { owner, fence, client, loss, expiresAtMs: sentAtMs + ttlMs, timer }
    return {
      key,
      owner,
      fence,
      ttlMs,
      sentAtMs,
      get lost() {
        return loss.signal
      },
    }
  }

  #drop(key: string, reason: string, notify = true): void {
    const holder = this.#keys.get(key)?.holder
    if (holder === undefined) return
    this.#free(key)
    if (notify) holder.loss.abort(new Error(`memory lock "${key}" ${reason}`))
  }

  /** Removes the holder and grants the key to the next waiter directly. */
  #free(key: string): void {
    const state = this.#keys.get(key)
    if (state?.holder === undefined) return
    this.clock.clearTimeout(state.holder.timer)
    state.holder = undefined
    const next = state.waiters.shift()
    if (next === undefined) this.#keys.delete(key)
    else next.settle(this.#grant(key, state, next.owner, next.ttlMs, next.client))
  }

  #holderOf(lease: DriverLease): Holder | undefined {
    const holder = this.#keys.get(lease.key)?.holder
    return holder?.owner === lease.owner && holder.fence === lease.fence ? holder : undefined
  }

  #stateOf(key: string): KeyState {
    let state = this.#keys.get(key)
    if (state === undefined) {
      state = { holder: undefined, waiters: [] }
      this.#keys.set(key, state)
    }
    return state
  }

  #forgetIfIdle(key: string, state: KeyState): void {
    if (state.holder === undefined && state.waiters.length === 0) this.#keys.delete(key)
  }
}
