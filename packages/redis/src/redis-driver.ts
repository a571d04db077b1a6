import type {
  AcquireRequest,
  Capabilities,
  DriverLease,
  LockDriver,
  LockInfo,
  RenewResult,
} from '@baton-lock/core'
import { ABORTED, Backoff, untilAborted } from '@baton-lock/core/driver'
import type { Redis } from 'ioredis'
import { connectClient, driverConnections } from './create-client.js'
import { type LockKeys, lockKeys } from './key-layout.js'
import { LeaseRegistry } from './lease-registry.js'
import { LockCommands } from './lock-commands.js'
import { redisCapabilities } from './redis-capabilities.js'
import type { RedisDriverOptions } from './redis-driver-options.js'
import { ReleaseListener } from './release-listener.js'
import { defineScripts } from './scripts.js'
import { evictionWarning, type ServerFacts } from './server-facts.js'
import { ServerWatch } from './server-watch.js'

/**
 * Baton driver for a standalone Redis server (ioredis). Capabilities are conservative
 * (`fencing: 'volatile'`) until the driver has connected and read the server's persistence
 * setting; `RedisDriver.connect()` or `await driver.ready()` settle them before first use.
 */
export class RedisDriver implements LockDriver {
  readonly name = 'redis'
  readonly #client: Redis
  readonly #commands: LockCommands
  readonly #ownsClient: boolean
  readonly #prefix: string
  readonly #connectTimeoutMs: number
  readonly #onWarning: (message: string) => void
  readonly #leases = new LeaseRegistry()
  readonly #listener: ReleaseListener
  readonly #watch: ServerWatch
  readonly #warnings: string[] = []
  /** Acquire scripts sent and not yet answered; close() waits for them so no grant leaks. */
  readonly #inFlight = new Set<Promise<unknown>>()
  #capabilities = redisCapabilities('volatile')
  #server: ServerFacts | undefined
  #init: Promise<void> | undefined
  #closing: Promise<void> | undefined

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
    this.#prefix = options.prefix ?? 'baton'
    this.#onWarning = options.onWarning ?? ((m) => process.emitWarning(m, { code: 'BATON_REDIS' }))
    for (const warning of connections.warnings) this.#warn(warning)
    this.#client.on('error', this.#ignoreError)
    this.#commands = new LockCommands(defineScripts(this.#client))
    this.#watch = new ServerWatch(this.#client, () => {
      this.#leases.loseAll(new Error('redis: the server restarted or failed over (run_id changed)'))
    })
    const lingerMs = options.subscriptionLingerMs ?? 1_000
    const subscribeWaitMs = options.commandTimeoutMs ?? 2_000
    this.#listener = new ReleaseListener(connections.createSubscriber, subscribeWaitMs, lingerMs)
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
    if (this.#closing !== undefined) return Promise.reject(new Error('redis driver is closed'))
    this.#init ??= this.#initialize().catch((err: unknown) => {
      this.#init = undefined
      if (this.#ownsClient) this.#client.disconnect()
      throw err
    })
    return this.#init
  }

  async acquire(req: AcquireRequest): Promise<DriverLease | null> {
    if (this.#server === undefined) await this.ready()
    const keys = lockKeys(this.#prefix, req.key)
    const deadlineMs = performance.now() + req.waitMs
    if (req.waitMs <= 0) {
      const result = await this.#attempt(req, keys)
      return typeof result === 'number' ? null : result
    }
    // Waiting: subscribe first, then try (in the queue, in arrival order), so no release
    // between a failed try and the subscription goes unseen.
    const ticket = this.#listener.enter(keys.channel)
    // Errors after the first try (a reconnect, a restarting server) do not end the wait:
    // the head retries with backoff; the last one is thrown if the wait ends on it.
    const backoff = new Backoff({ minMs: 20, maxMs: 1_000 })
    let lastError: unknown
    try {
      let tried = false
      for (;;) {
        const myTurn = await ticket.turn(deadlineMs, req.signal)
        // A wait shorter than the subscription still gets its one try (unless aborted or closed).
        if (!myTurn && (tried || req.signal.aborted || this.#closing !== undefined)) {
          if (lastError !== undefined && !req.signal.aborted) throw lastError
          return null
        }
        const firstTry = !tried
        tried = true
        let result: DriverLease | null | number
        try {
          result = await this.#attempt(req, keys)
        } catch (err) {
          if (firstTry || !myTurn) throw err
          lastError = err
          ticket.holderFor(backoff.next(deadlineMs - performance.now()), 0)
          continue
        }
        lastError = undefined
        backoff.reset()
        if (typeof result !== 'number') {
          ticket.holderFor(result?.ttlMs ?? 0, 0)
          return result
        }
        if (!myTurn) return null
        ticket.holderFor(result, req.ttlMs)
      }
    } finally {
      ticket.leave()
    }
  }

  async renew(lease: DriverLease, ttlMs: number): Promise<RenewResult> {
    const [result] = await this.renewMany([lease], ttlMs)
    return result ?? { ok: false }
  }

  async renewMany(leases: readonly DriverLease[], ttlMs: number): Promise<RenewResult[]> {
    if (this.#server === undefined) await this.ready()
    const ttl = Math.max(1, Math.floor(ttlMs))
    const sentAtMs = performance.now()
    const owned = leases.map((lease) => ({ keys: this.#keysOf(lease), owner: lease.owner }))
    const stillOwned = await this.#commands.renewMany(owned, ttl)
    return leases.map((lease, i) => {
      if (stillOwned[i]) {
        const tracked = this.#leases.get(lease)
        if (tracked !== undefined) tracked.expiresAtMs = sentAtMs + ttl
        return { ok: true, ttlMs: ttl }
      }
      const reason = new Error(`redis: lock key of "${lease.key}" is gone or has another owner`)
      this.#leases.lose(lease, reason)
      return { ok: false }
    })
  }

  async release(lease: DriverLease): Promise<boolean> {
    if (this.#server === undefined) await this.ready()
    const released = await this.#commands.release(this.#keysOf(lease), lease.owner)
    this.#leases.delete(lease)
    return released
  }

  async inspect(key: string): Promise<LockInfo | null> {
    if (this.#server === undefined) await this.ready()
    return this.#commands.inspect(lockKeys(this.#prefix, key))
  }

  async list(prefix: string): Promise<Array<LockInfo & { readonly key: string }>> {
    if (this.#server === undefined) await this.ready()
    return this.#commands.list(this.#prefix, prefix)
  }

  async forceRelease(key: string): Promise<boolean> {
    if (this.#server === undefined) await this.ready()
    return this.#commands.forceRelease(lockKeys(this.#prefix, key))
  }

  close(): Promise<void> {
    this.#closing ??= this.#shutdown()
    return this.#closing
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  /** One SET NX attempt. Returns the lease, null (aborted meanwhile) or the holder's PTTL. */
  async #attempt(req: AcquireRequest, keys: LockKeys): Promise<DriverLease | null | number> {
    if (req.signal.aborted) return null
    const ttlMs = Math.max(1, Math.floor(req.ttlMs))
    const sentAtMs = performance.now()
    const sent = this.#commands.acquire(keys, req.owner, ttlMs, req.key)
    this.#inFlight.add(sent)
    const settled = () => this.#inFlight.delete(sent)
    sent.then(settled, settled)
    // A reply that comes after an abort, or never (timeout), may still be a grant: free it (S4).
    // It goes out on the same connection, so the server runs it after the acquire.
    const cleanUp = () => {
      this.#commands.release(keys, req.owner).catch(() => undefined)
    }
    const reply = await untilAborted(sent, req.signal).catch((err: unknown) => {
      cleanUp()
      throw err
    })
    if (reply === ABORTED) {
      sent.then(([granted]) => granted === 1 && cleanUp()).catch(() => undefined)
      return null
    }
    if (reply[0] !== 1) return reply[1]
    if (req.signal.aborted) {
      cleanUp()
      return null
    }
    const controller = new AbortController()
    const fence = BigInt(reply[1])
    const lease: DriverLease = {
      key: req.key,
      owner: req.owner,
      fence,
      ttlMs,
      sentAtMs,
      lost: controller.signal,
    }
    this.#leases.add({ lease, keys, controller, expiresAtMs: sentAtMs + ttlMs })
    // Granted while closing: close() releases it with the others; the caller gets nothing.
    return this.#closing === undefined ? lease : null
  }

  async #initialize(): Promise<void> {
    await connectClient(this.#client, this.#connectTimeoutMs, this.#ownsClient)
    const facts = await this.#watch.start()
    this.#server = facts
    this.#capabilities = redisCapabilities(facts.aof ? 'durable' : 'volatile')
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
    this.#listener.close()
    await Promise.allSettled([...this.#inFlight])
    const held = this.#leases.drain().map(({ lease, keys }) => ({ keys, owner: lease.owner }))
    if (this.#client.status === 'ready')
      await this.#commands.releaseAll(held).catch(() => undefined)
    this.#watch.stop()
    if (this.#ownsClient) {
      if (this.#client.status === 'ready') await this.#client.quit().catch(() => undefined)
      this.#client.disconnect()
    }
    this.#client.off('error', this.#ignoreError)
  }

  #keysOf(lease: DriverLease): LockKeys {
    return this.#leases.get(lease)?.keys ?? lockKeys(this.#prefix, lease.key)
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
