import type { Etcd3 } from 'etcd3'
import type { KeepAliveStream } from './keepalive-stream.js'
import { SharedLease } from './shared-lease.js'

/** What the pool needs from the driver. */
export interface LeasePoolOptions {
  readonly client: Etcd3
  readonly keepAlive: KeepAliveStream
  readonly callOptions: () => { deadline: number }
  /** An unused lease is kept this long for reuse, then revoked, in ms. */
  readonly lingerMs: number
  /** Called once when a lease dies (gone on the server, revoked, or unconfirmed past its deadline). */
  readonly onDead: (lease: SharedLease, reason: Error) => void
}

/**
 * One lease per requested TTL (in whole seconds), shared by every key the driver puts with
 * that TTL, and kept alive by the driver itself, never by etcd3's own keepalive (whose
 * `lost` event fires late). Core's renewals of held locks send the keepalives (so a lock
 * that is not renewed expires, unless another lock or a waiter on the same lease keeps it
 * alive); while a waiter is queued the pool sends them itself, at a third of the TTL after
 * the last confirmed one. A deadline timer at the confirmed send time plus the TTL kills a
 * lease nobody confirmed in time, and every lock on it with it.
 */
export class LeasePool {
  readonly #options: LeasePoolOptions
  readonly #live = new Map<number, SharedLease>()
  readonly #granting = new Map<number, Promise<SharedLease>>()
  #closed = false

  constructor(options: LeasePoolOptions) {
    this.#options = options
  }

  /** Live leases (tests, H1). */
  get size(): number {
    return this.#live.size
  }

  /**
   * The live lease for `ttlMs` with one more user, when one needs no request first (alive
   * and confirmed for more than half its TTL); else undefined, and `use` does the rest.
   */
  useLive(ttlMs: number): SharedLease | undefined {
    if (this.#closed) return undefined
    const live = this.#live.get(Math.max(1, Math.ceil(ttlMs / 1000)))
    if (live === undefined || live.dead.aborted || live.leftMs() < live.ttlMs / 2) return undefined
    live.users++
    return live
  }

  /** A live lease for `ttlMs` (rounded up to seconds) with one more user; grants one if needed. */
  async use(ttlMs: number): Promise<SharedLease> {
    const seconds = Math.max(1, Math.ceil(ttlMs / 1000))
    for (;;) {
      if (this.#closed) throw new Error('etcd driver closed')
      const live = this.#live.get(seconds)
      if (live !== undefined && !live.dead.aborted) {
        live.users++
        // A lease whose keepalives failed for a while is refreshed before it backs a grant.
        if (live.leftMs() < live.ttlMs / 2 && !(await this.keepAlive(live))) {
          live.users--
          continue
        }
        return live
      }
      let granting = this.#granting.get(seconds)
      if (granting === undefined) {
        granting = this.#grant(seconds).finally(() => this.#granting.delete(seconds))
        this.#granting.set(seconds, granting)
      }
      await granting
    }
  }

  /**
   * One user less; an unused lease lingers, then is revoked. One linger timer per lease at
   * a time: a lease used and given back at every cycle only moves its idle time, and the
   * timer, when it fires, waits for the rest of the linger from there.
   */
  unuse(lease: SharedLease): void {
    lease.users = Math.max(0, lease.users - 1)
    if (lease.users > 0 || lease.dead.aborted || this.#closed) return
    lease.idleSinceMs = performance.now()
    if (lease.lingerTimer === undefined) this.#linger(lease, this.#options.lingerMs)
  }

  #linger(lease: SharedLease, delayMs: number): void {
    lease.lingerTimer = setTimeout(() => {
      lease.lingerTimer = undefined
      if (lease.users > 0 || lease.dead.aborted || this.#closed) return
      const leftMs = lease.idleSinceMs + this.#options.lingerMs - performance.now()
      if (leftMs > 0) this.#linger(lease, leftMs)
      else void this.#retire(lease, new Error('etcd lease revoked: unused'))
    }, delayMs)
    lease.lingerTimer.unref()
  }

  /**
   * Sends one keepalive now (or joins the one in flight) and records a confirmation; kills
   * the lease when the server says it is gone. Resolves true when the lease is confirmed.
   */
  keepAlive(lease: SharedLease): Promise<boolean> {
    if (lease.dead.aborted) return Promise.resolve(false)
    lease.keepAliveInFlight ??= this.#sendKeepAlive(lease).finally(() => {
      lease.keepAliveInFlight = undefined
    })
    return lease.keepAliveInFlight
  }

  /** Sends a keepalive whose send time is after `sentAfterMs`; the confirmed send time, or undefined. */
  async confirmAfter(lease: SharedLease, sentAfterMs: number): Promise<number | undefined> {
    if (lease.keepAliveInFlight !== undefined) await lease.keepAliveInFlight.catch(() => false)
    if (lease.confirmedAtMs >= sentAfterMs && !lease.dead.aborted) return lease.confirmedAtMs
    const ok = await this.keepAlive(lease)
    return ok && lease.confirmedAtMs >= sentAfterMs ? lease.confirmedAtMs : undefined
  }

  /** A waiter queued on `lease`: keep it alive while any waits. */
  startWaiting(lease: SharedLease): void {
    lease.waiters++
    if (lease.keepAliveTimer === undefined && lease.keepAliveInFlight === undefined) {
      this.#schedule(lease)
    }
  }

  /** The waiter left the queue (granted or gave up). */
  stopWaiting(lease: SharedLease): void {
    lease.waiters = Math.max(0, lease.waiters - 1)
  }

  /** Kills `lease` and revokes it on the server (best effort): every key on it is deleted. */
  revoke(lease: SharedLease, reason: Error): Promise<void> {
    return this.#retire(lease, reason)
  }

  /** Revokes every lease (close): their keys, held or waiting, go with them. */
  async close(): Promise<void> {
    this.#closed = true
    await Promise.allSettled([...this.#granting.values()])
    const all = [...this.#live.values()]
    await Promise.allSettled(all.map((l) => this.#retire(l, new Error('etcd driver closed'))))
  }

  async #grant(seconds: number): Promise<SharedLease> {
    const sentAtMs = performance.now()
    const res = await this.#options.client.leaseClient.leaseGrant(
      { TTL: seconds, ID: 0 },
      this.#options.callOptions(),
    )
    const lease = new SharedLease(res.ID, Number(res.TTL) * 1000, seconds, sentAtMs)
    if (this.#closed) {
      await this.#revokeOnServer(lease)
      throw new Error('etcd driver closed')
    }
    this.#live.set(seconds, lease)
    this.#schedule(lease)
    return lease
  }

  async #sendKeepAlive(lease: SharedLease): Promise<boolean> {
    const sentAtMs = performance.now()
    try {
      const ttlSeconds = await this.#options.keepAlive.keepAlive(lease.id)
      if (ttlSeconds <= 0) {
        this.#die(lease, new Error(`etcd lease ${lease.id} is gone (expired or revoked)`))
        return false
      }
      lease.confirm(sentAtMs)
      this.#schedule(lease)
      return true
    } catch {
      // No reply: the deadline timer decides; try again soon.
      if (!lease.dead.aborted) this.#scheduleRetry(lease)
      return false
    }
  }

  #schedule(lease: SharedLease): void {
    if (lease.dead.aborted) return
    clearTimeout(lease.keepAliveTimer)
    clearTimeout(lease.deadlineTimer)
    lease.keepAliveTimer = undefined
    const nowMs = performance.now()
    if (lease.waiters > 0) {
      lease.keepAliveTimer = setTimeout(
        () => {
          lease.keepAliveTimer = undefined
          if (lease.waiters > 0) void this.keepAlive(lease)
        },
        Math.max(0, lease.keepAliveAtMs - nowMs),
      )
      lease.keepAliveTimer.unref()
    }
    lease.deadlineTimer = setTimeout(
      () => this.#die(lease, new Error(`etcd lease ${lease.id} unconfirmed past its TTL`)),
      Math.max(0, lease.deadlineMs - nowMs),
    )
    lease.deadlineTimer.unref()
  }

  #scheduleRetry(lease: SharedLease): void {
    clearTimeout(lease.keepAliveTimer)
    lease.keepAliveTimer = undefined
    if (lease.waiters === 0) return
    const retryMs = Math.max(50, Math.min(lease.ttlMs / 6, 1_000))
    lease.keepAliveTimer = setTimeout(() => {
      lease.keepAliveTimer = undefined
      if (lease.waiters > 0) void this.keepAlive(lease)
    }, retryMs)
    lease.keepAliveTimer.unref()
  }

  /** The lease can no longer be counted on: forget it, tell the driver, revoke in the background. */
  #die(lease: SharedLease, reason: Error): void {
    if (lease.dead.aborted) return
    void this.#retire(lease, reason)
  }

  async #retire(lease: SharedLease, reason: Error): Promise<void> {
    const wasDead = lease.dead.aborted
    if (this.#live.get(lease.requestedSeconds) === lease) this.#live.delete(lease.requestedSeconds)
    lease.kill(reason)
    if (!wasDead) this.#options.onDead(lease, reason)
    if (!wasDead) await this.#revokeOnServer(lease)
  }

  async #revokeOnServer(lease: SharedLease): Promise<void> {
    await this.#options.client.leaseClient
      .leaseRevoke({ ID: lease.id }, this.#options.callOptions())
      .catch(() => undefined)
  }
}
