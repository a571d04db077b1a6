import {
  type AcquireRequest,
  Backoff,
  type Capabilities,
  type DriverLease,
  DriverLifecycle,
  LeaseBook,
  type LockDriver,
  type LockInfo,
  LockLimitMismatchError,
  type LockMode,
  type RenewResult,
} from '@baton-lock/core/driver'
import type { Redis } from 'ioredis'
import { ClusterCommands, ClusterWatch } from './cluster-topology.js'
import { connectClient, driverConnections } from './create-client.js'
import {
  type CallKeys,
  callKeys,
  exclusiveEntry,
  LockCommands,
  type OwnedLock,
  sharedEntry,
} from './lock-commands.js'
import { redisCapabilities } from './redis-capabilities.js'
import { LockKeyCache, type SemaphoreKeys, semaphoreKeys } from './redis-key.js'
import type { RedisDriverOptions } from './redis-options.js'
import { ReleaseListener } from './release-listener.js'
import { asTryReply, defineScripts, pttlOfTry, TRY_QUEUED } from './scripts.js'
import { evictionWarning, type ServerFacts } from './server-facts.js'
import { ServerWatch } from './server-watch.js'

/** What the driver keeps per granted lease. */
interface RedisLease {
  /** The lease's kind, keys and owner, as the renew and release scripts take them. */
  readonly owned: OwnedLock
  /** Monotonic time after which the server has surely expired the key unless renewed. */
  expiresAtMs: number
}

/** What one acquire works on: a lock (exclusive or shared) or a semaphore, and its keys. */
type Target =
  | { readonly kind: 'exclusive'; readonly keys: CallKeys }
  | { readonly kind: 'shared'; readonly keys: CallKeys }
  | { readonly kind: 'semaphore'; readonly keys: SemaphoreKeys }

/** Grants between two sweeps of leases that expired unrenewed (core already counts them lost). */
const SWEEP_EVERY_GRANTS = 1024

/**
 * Baton driver for a Redis server, a Sentinel-managed master or a Redis Cluster (ioredis). Capabilities are conservative
 * (`fencing: 'volatile'`) until the driver has connected and read the server's persistence
 * setting; `RedisDriver.connect()` or `await driver.ready()` settle them before first use.
 */
export class RedisDriver implements LockDriver {
  readonly name = 'redis'
  readonly #client: Redis
  readonly #commands: LockCommands
  readonly #ownsClient: boolean
  readonly #keys: LockKeyCache<CallKeys>
  readonly #semaphoreKeys: LockKeyCache<SemaphoreKeys>
  readonly #subscribeWaitMs: number
  readonly #connectTimeoutMs: number
  readonly #onWarning: (message: string) => void
  readonly #leases = new LeaseBook<RedisLease>()
  readonly #lifecycle = new DriverLifecycle('redis')
  /** How long close() lets acquire scripts in flight answer, so that no grant leaks. */
  readonly #closeGraceMs: number
  readonly #listener: ReleaseListener
  readonly #watch: ServerWatch | ClusterWatch
  /** Cluster or Sentinel: a failover may roll writes back (see `DriverConnections.failover`). */
  readonly #failover: boolean
  /** Set for a Redis Cluster client: the calls that span locks, split per slot. */
  readonly #spanning: Pick<ClusterCommands, 'renewMany' | 'releaseAll' | 'list'>
  readonly #warnings: string[] = []
  #capabilities = redisCapabilities('volatile')
  #server: ServerFacts | undefined
  #init: Promise<void> | undefined
  #grantsSinceSweep = 0

  /** An unconnected driver for `redis://` or `rediss://` URLs (`connect(url)` awaits `ready()`). */
  static fromUrl(url: string): RedisDriver {
    return new RedisDriver({ url })
  }

  /** Creates a driver and connects it, so that `capabilities` are final on return. */
  static async connect(options: RedisDriverOptions): Promise<RedisDriver> {
    const driver = new RedisDriver(options)
    try {
      await driver.ready()
    } catch (err) {
      await driver.close()
      throw err
    }
    return driver
  }

  constructor(options: RedisDriverOptions) {
    const connections = driverConnections(options)
    this.#client = connections.client
    this.#ownsClient = connections.ownsClient
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 5_000
    this.#keys = new LockKeyCache(options.prefix ?? 'baton', callKeys)
    this.#semaphoreKeys = new LockKeyCache(options.prefix ?? 'baton', semaphoreKeys)
    this.#onWarning = options.onWarning ?? ((m) => process.emitWarning(m, { code: 'BATON_REDIS' }))
    for (const warning of connections.warnings) this.#warn(warning)
    this.#client.on('error', this.#ignoreError)
    this.#commands = new LockCommands(defineScripts(this.#client))
    const cluster = connections.cluster
    this.#failover = connections.failover
    this.#spanning = cluster ? new ClusterCommands(cluster, this.#commands) : this.#commands
    this.#watch = cluster
      ? new ClusterWatch(cluster, () =>
          [...this.#leases.entries()].map(({ lease, data: { owned } }) => ({
            lock: owned.kind === 'semaphore' ? owned.keys.holders : owned.keys.lock,
            owner: lease.owner,
            ...(owned.kind === 'shared' ? { holders: owned.keys.readers } : {}),
            ...(owned.kind === 'semaphore' ? { holders: owned.keys.holders } : {}),
            lose: (reason: Error) => this.#leases.lose(lease, reason),
          })),
        )
      : new ServerWatch(this.#client, () => {
          this.#leases.loseAll(
            new Error('redis: the server restarted or failed over (run_id changed)'),
          )
        })
    const lingerMs = options.subscriptionLingerMs ?? 1_000
    const subscribeWaitMs = options.commandTimeoutMs ?? 2_000
    this.#closeGraceMs = subscribeWaitMs + 1_000
    this.#subscribeWaitMs = subscribeWaitMs
    this.#listener = new ReleaseListener(connections.createSubscriber, lingerMs)
  }

  /** What this server lets the driver promise; `fencing` is final once `ready()` resolved. */
  get capabilities(): Readonly<Capabilities> {
    return this.#capabilities
  }

  /** Deployment warnings found so far (eviction policy, unsafe client options, ...). */
  get warnings(): readonly string[] {
    return [...this.#warnings]
  }

  /** Facts read from the server at connect; undefined before `ready()`. */
  get server(): ServerFacts | undefined {
    return this.#server
  }

  /** The underlying client (tests and operations). */
  get client(): Redis {
    return this.#client
  }

  /** Number of channels this driver is subscribed to (with waiters, or lingering after). */
  get subscribedChannels(): number {
    return this.#listener.channelCount
  }

  /** Number of acquires of this driver waiting for a key. */
  get waiting(): number {
    return this.#listener.waiterCount
  }

  /** The shared subscriber connection, once a waiter created it. */
  get subscriber(): Redis | undefined {
    return this.#listener.subscriber
  }

  /** Connects (once) and reads run id, persistence and eviction policy; retried after a failure. */
  ready(): Promise<void> {
    if (this.#lifecycle.closing) return Promise.reject(this.#lifecycle.closedError())
    this.#init ??= this.#initialize().catch((err: unknown) => {
      this.#init = undefined
      if (this.#ownsClient) this.#client.disconnect()
      throw err
    })
    return this.#init
  }

  acquire(req: AcquireRequest): Promise<DriverLease | null> {
    if (this.#server === undefined) return this.ready().then(() => this.acquire(req))
    const target = this.#target(req)
    // One attempt: the request's signal is not read (core checks it before calling, and
    // reading it would make core build an AbortController for every acquire).
    if (req.waitMs <= 0) return this.#once(req, target)
    // Most acquires find the lock free: try once without the channel, and subscribe (then
    // queue) only when it is held. With the channel still subscribed (this driver waited
    // on the key less than `subscriptionLingerMs` ago), the first script queues at once.
    if (!this.#listener.isSubscribed(target.keys.channel)) return this.#tryThenWait(req, target)
    return this.#wait(req, target, performance.now() + req.waitMs, 0)
  }

  async renew(lease: DriverLease, ttlMs: number): Promise<RenewResult> {
    const [result] = await this.renewMany([lease], ttlMs)
    return result ?? { ok: false }
  }

  async renewMany(leases: readonly DriverLease[], ttlMs: number): Promise<RenewResult[]> {
    if (this.#server === undefined) await this.ready()
    const ttl = Math.max(1, Math.floor(ttlMs))
    const sentAtMs = performance.now()
    const owned = leases.map((lease) => this.#ownedOf(lease))
    const stillOwned = await this.#spanning.renewMany(owned, ttl)
    return leases.map((lease, i) => {
      if (stillOwned[i]) {
        const held = this.#leases.get(lease)
        if (held !== undefined) held.data.expiresAtMs = sentAtMs + ttl
        return { ok: true, ttlMs: ttl }
      }
      const reason = new Error(`redis: lock key of "${lease.key}" is gone or has another owner`)
      this.#leases.lose(lease, reason)
      return { ok: false }
    })
  }

  async release(lease: DriverLease): Promise<boolean> {
    if (this.#server === undefined) await this.ready()
    const owned = this.#ownedOf(lease)
    const released =
      owned.kind === 'exclusive'
        ? await this.#commands.release(owned.keys, owned.owner)
        : await this.#commands.releaseOwned(owned)
    this.#leases.forget(lease)
    return released
  }

  /** The lock's holder (mode, holders, an election's value), or with `'semaphore'` the semaphore's permits and limit. */
  async inspect(key: string, mode?: LockMode): Promise<LockInfo | null> {
    if (this.#server === undefined) await this.ready()
    if (mode === 'semaphore') return this.#commands.inspectSemaphore(this.#semaphoreKeys.get(key))
    return this.#commands.inspect(this.#keys.get(key))
  }

  async list(prefix: string): Promise<Array<LockInfo & { readonly key: string }>> {
    if (this.#server === undefined) await this.ready()
    return this.#spanning.list(this.#keys.prefix, prefix)
  }

  async forceRelease(key: string): Promise<boolean> {
    if (this.#server === undefined) await this.ready()
    return this.#commands.forceRelease(this.#keys.get(key))
  }

  /**
   * Frees what a failed acquire of `req` may still be granted: a script that timed out on
   * the client can run later on a stalled server. Leaves the queue and releases the lock if
   * it is `req.owner`'s (owner-checked), sent on the same connection, so the server runs it
   * after the acquire.
   */
  async abandon(req: AcquireRequest): Promise<void> {
    await this.#leave(req, this.#target(req))
  }

  close(): Promise<void> {
    const closed = this.#lifecycle.close(() => this.#shutdown(), this.#closeGraceMs)
    this.#listener.close()
    return closed
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  /** One attempt without waiting: the lease or null. */
  async #once(req: AcquireRequest, target: Target): Promise<DriverLease | null> {
    const result = await this.#attempt(req, target, false)
    return typeof result === 'number' ? null : result
  }

  /** One attempt without the channel; when the lock is held, the wait (subscribed, queued). */
  async #tryThenWait(req: AcquireRequest, target: Target): Promise<DriverLease | null> {
    const deadlineMs = performance.now() + req.waitMs
    // Someone queues: the wait's first script (ACQUIRE) hands a free lock to the head or queues.
    const first = await this.#attempt(req, target, false, true)
    if (typeof first !== 'number') return first
    req.onContended?.()
    return this.#wait(req, target, deadlineMs, 1)
  }

  /**
   * One acquire script: the lease, null (closing) or the holder's PTTL (-1 when unknown).
   * A mutex's try goes as TRY_ACQUIRE; when that finds a queue, ACQUIRE follows (a free
   * lock goes to the queue's head, and the try gets it only after every live waiter),
   * unless `queuedIsHeld`: the caller waits next, and its first script does that. It does
   * not race the request's signal: core stops waiting for this call at once, and releases
   * a grant that still arrives or calls `abandon` when the call fails (S4).
   */
  async #attempt(
    req: AcquireRequest,
    target: Target,
    wait: boolean,
    queuedIsHeld = false,
  ): Promise<DriverLease | null | number> {
    const ttlMs = Math.max(1, Math.floor(req.ttlMs))
    let sentAtMs = performance.now()
    let fence: number
    this.#lifecycle.busy() // close waits for the reply, so that no grant leaks
    try {
      if (!wait && target.kind === 'exclusive') {
        const { keys } = target
        fence = await this.#commands.tryAcquire(keys, req.owner, ttlMs, req.key, req.value)
        if (fence === TRY_QUEUED) {
          if (queuedIsHeld) return -1
          sentAtMs = performance.now()
          fence = asTryReply(await this.#send(req, target, ttlMs, false))
        }
      } else {
        fence = asTryReply(await this.#send(req, target, ttlMs, wait))
      }
    } finally {
      this.#lifecycle.idle()
    }
    if (fence < 0) return pttlOfTry(fence)
    const grant = { fence: BigInt(fence), ttlMs, sentAtMs }
    const owned = { kind: target.kind, keys: target.keys, owner: req.owner } as OwnedLock
    const lease = this.#leases.grant(req, grant, { owned, expiresAtMs: sentAtMs + ttlMs })
    if (++this.#grantsSinceSweep >= SWEEP_EVERY_GRANTS) this.#sweep()
    // Granted while closing: close() releases it with the others; the caller gets nothing.
    return this.#lifecycle.closing ? null : lease
  }

  /**
   * A waiting acquire, after `triesBefore` attempts, until monotonic `deadlineMs`: subscribe first, then join the fair queue in
   * Redis with one script (granted at once when the lock is free and nobody queues). Then sleep until the lock is
   * handed over (its message names this owner), the holder's PTTL runs out, or a third of
   * `ttlMs` passed (the script refreshes the queue entry, which expires after `ttlMs`
   * otherwise, and claims a hand-off whose message was missed). On giving up, the waiter
   * leaves the queue (and releases a lock handed over meanwhile) in one script.
   */
  async #wait(
    req: AcquireRequest,
    target: Target,
    deadlineMs: number,
    triesBefore: number,
  ): Promise<DriverLease | null> {
    let tries = triesBefore
    const ticket = this.#listener.enter(target.keys.channel, req.owner, target.kind !== 'semaphore')
    const ttlMs = Math.max(1, Math.floor(req.ttlMs))
    const refreshMs = Math.max(1, Math.floor(ttlMs / 3))
    // Errors after the first try (a reconnect, a restarting server) do not end the wait:
    // the waiter retries with backoff; the last one is thrown if the wait ends on it.
    const backoff = new Backoff({ minMs: 20, maxMs: 1_000 })
    let lastError: unknown
    /** Send time of the last attempt the server refused: it ran before any later hand-off. */
    let refusedAtMs: number | undefined
    let queued = false
    try {
      const subscribeUntilMs = Math.min(deadlineMs, performance.now() + this.#subscribeWaitMs)
      await ticket.untilSubscribed(subscribeUntilMs, req.signal)
      for (; ; tries++) {
        const fence = ticket.fence
        if (fence !== undefined && refusedAtMs !== undefined) {
          queued = false
          return this.#handedOver(req, target, fence, refusedAtMs, ttlMs)
        }
        // A wait shorter than the subscription still gets its one try (unless aborted or closed).
        const over = performance.now() >= deadlineMs
        if (req.signal.aborted || this.#lifecycle.closing || (over && tries > 0)) {
          if (lastError !== undefined && !req.signal.aborted) throw lastError
          return null
        }
        const sentAtMs = performance.now()
        let result: DriverLease | null | number
        try {
          queued = true
          result = await this.#attempt(req, target, true)
        } catch (err) {
          if (tries === 0 || err instanceof LockLimitMismatchError) {
            queued = false // core calls abandon(), which leaves the queue
            throw err
          }
          lastError = err
          const delayMs = backoff.next(deadlineMs - performance.now())
          await ticket.wait(Math.min(deadlineMs, performance.now() + delayMs), req.signal)
          continue
        }
        lastError = undefined
        backoff.reset()
        if (typeof result !== 'number') {
          queued = result === null
          return result
        }
        if (tries === 0) req.onContended?.()
        refusedAtMs = sentAtMs
        const holderMs = result >= 0 ? result + 1 : refreshMs
        const untilMs = Math.min(deadlineMs, performance.now() + Math.min(holderMs, refreshMs))
        await ticket.wait(untilMs, req.signal)
      }
    } finally {
      ticket.leave()
      // Gave up while queued: leave the queue, and release a lock handed over meanwhile.
      if (queued) this.#lifecycle.track(this.#leave(req, target))
    }
  }

  /**
   * The lock was handed to this waiter on the server, after its refused attempt sent at
   * `refusedAtMs`: that attempt set the queue entry's expiry, which the hand-off gave the
   * lock as its PX, so the lease counts from then.
   */
  #handedOver(
    req: AcquireRequest,
    target: Target,
    fence: string,
    refusedAtMs: number,
    ttlMs: number,
  ): DriverLease | null {
    const grant = { fence: BigInt(fence), ttlMs, sentAtMs: refusedAtMs }
    const owned = { ...target, owner: req.owner } as OwnedLock
    const lease = this.#leases.grant(req, grant, { owned, expiresAtMs: refusedAtMs + ttlMs })
    if (++this.#grantsSinceSweep >= SWEEP_EVERY_GRANTS) this.#sweep()
    return this.#lifecycle.closing ? null : lease
  }

  /** Forgets leases that expired without renewal (core already treats them as lost). */
  #sweep(): void {
    this.#grantsSinceSweep = 0
    const nowMs = performance.now()
    this.#leases.forgetWhere(({ data }) => data.expiresAtMs < nowMs)
  }

  async #initialize(): Promise<void> {
    await connectClient(this.#client, this.#connectTimeoutMs, this.#ownsClient)
    const facts = await this.#watch.start()
    // Best effort (an ACL may deny SCRIPT): else the first acquire meets NOSCRIPT and EVALs.
    if (this.#spanning === this.#commands) await this.#commands.preload().catch(() => undefined)
    this.#server = facts
    this.#capabilities = redisCapabilities(facts.aof && !this.#failover ? 'durable' : 'volatile')
    const eviction = evictionWarning(facts)
    if (eviction !== undefined) this.#warn(eviction)
    if (facts.runId === undefined) {
      this.#warn(
        'redis INFO is not readable (ACL?): server restarts and failovers cannot be detected',
      )
    }
    if (facts.maxmemoryPolicy === undefined) {
      this.#warn('redis maxmemory-policy is not readable (ACL?): make sure it is "noeviction"')
    }
  }

  readonly #ignoreError = (): void => {
    // ioredis reconnects by itself; commands fail fast meanwhile and report their own errors.
  }

  async #shutdown(): Promise<void> {
    const held = this.#leases.drain().map(({ data }) => data.owned)
    if (this.#client.status === 'ready')
      await this.#spanning.releaseAll(held).catch(() => undefined)
    this.#watch.stop()
    if (this.#ownsClient) {
      if (this.#client.status === 'ready') await this.#client.quit().catch(() => undefined)
      this.#client.disconnect()
    }
    this.#client.off('error', this.#ignoreError)
  }

  /** The lease's kind and keys; a lease this driver forgot (released, lost) renews and releases as exclusive, which fails. */
  #ownedOf(lease: DriverLease): OwnedLock {
    return (
      this.#leases.get(lease)?.data.owned ?? {
        kind: 'exclusive',
        keys: this.#keys.get(lease.key),
        owner: lease.owner,
      }
    )
  }

  #target(req: AcquireRequest): Target {
    if (req.mode === 'semaphore')
      return { kind: 'semaphore', keys: this.#semaphoreKeys.get(req.key) }
    if (req.mode === 'shared') return { kind: 'shared', keys: this.#keys.get(req.key) }
    return { kind: 'exclusive', keys: this.#keys.get(req.key) }
  }

  /**
   * One acquire script of the target's kind: `[1, fence]` or `[0, ms to wait at most]`;
   * rejects with `LockLimitMismatchError` on a semaphore held with another limit. Not
   * `async`: the mutex's promise goes back as ioredis made it.
   */
  #send(
    req: AcquireRequest,
    target: Target,
    ttlMs: number,
    wait: boolean,
  ): Promise<[0 | 1, number]> {
    if (target.kind === 'exclusive') {
      const tag = this.#listener.tag
      return this.#commands.acquire(target.keys, req.owner, ttlMs, req.key, wait, req.value, tag)
    }
    if (target.kind === 'shared') {
      const tag = this.#listener.tag
      return this.#commands.acquireShared(target.keys, req.owner, ttlMs, req.key, wait, tag)
    }
    return this.#sendPermit(req, target.keys, ttlMs, wait)
  }

  async #sendPermit(
    req: AcquireRequest,
    keys: SemaphoreKeys,
    ttlMs: number,
    wait: boolean,
  ): Promise<[0 | 1, number]> {
    const limit = req.limit ?? 1
    const reply = await this.#commands.acquireSemaphore(
      keys,
      req.owner,
      ttlMs,
      req.key,
      wait,
      limit,
    )
    if (reply.granted) return [1, reply.fence]
    if ('heldLimit' in reply) throw new LockLimitMismatchError(req.key, limit, reply.heldLimit)
    return [0, reply.pttlMs]
  }

  /** A waiter gives up: leaves its queue, and releases what was handed to it meanwhile. */
  #leave(req: AcquireRequest, target: Target): Promise<boolean> {
    if (target.kind === 'semaphore') return this.#commands.leaveSemaphore(target.keys, req.owner)
    const tag = this.#listener.tag
    const entry =
      target.kind === 'shared'
        ? sharedEntry(req.owner, tag)
        : exclusiveEntry(req.owner, req.value, tag)
    return this.#commands.leave(target.keys, req.owner, entry)
  }

  #warn(message: string): void {
    this.#warnings.push(message)
    try {
      this.#onWarning(message)
    } catch {
      // a throwing warning listener must not break the driver
    }
  }
}
