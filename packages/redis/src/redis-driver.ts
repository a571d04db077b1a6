import {
  type AcquireRequest,
  type Capabilities,
  type DriverLease,
  defineCapabilities,
  type LockDriver,
  type LockInfo,
  type RenewResult,
} from '@baton/core'
import type { Redis } from 'ioredis'
import { clientFromUrl, connectClient } from './create-client.js'
import { fenceKeyOf, type LockKeys, lockKeyPattern, lockKeys } from './key-layout.js'
import { LeaseRegistry } from './lease-registry.js'
import type { RedisDriverOptions } from './redis-driver-options.js'
import { ReleaseListener } from './release-listener.js'
import { defineScripts, type ScriptedClient, type ScriptedPipeline } from './scripts.js'
import {
  clientOptionWarnings,
  evictionWarning,
  readRunId,
  readServerFacts,
  type ServerFacts,
} from './server-facts.js'

/** Leases per renewMany script call; a pipeline carries all chunks in one round trip. */
const RENEW_CHUNK = 500

const BASE_CAPABILITIES = {
  expiry: 'lease',
  ttlResolutionMs: 1,
  nativeWait: true,
  // SET NX has no queue: after a release, whichever process's retry reaches the server first
  // wins. Only one driver's own waiters are served in arrival order.
  fair: false,
  lossSignal: true,
  // Keys are hashed into the hash tag, so their length costs only the fence hash's `key` field.
  maxKeyBytes: 4096,
  inspect: true,
  sharedLocks: false,
} as const

/**
 * Baton driver for a standalone Redis server (ioredis). Capabilities are conservative
 * (`fencing: 'volatile'`) until the driver has connected and read the server's persistence
 * setting; `RedisDriver.connect()` or `await driver.ready()` settle them before first use.
 */
export class RedisDriver implements LockDriver {
  readonly name = 'redis'
  readonly #client: ScriptedClient
  readonly #ownsClient: boolean
  readonly #prefix: string
  readonly #connectTimeoutMs: number
  readonly #onWarning: (message: string) => void
  readonly #leases = new LeaseRegistry()
  readonly #listener: ReleaseListener
  readonly #warnings: string[] = []
  #capabilities: Readonly<Capabilities> = defineCapabilities({
    ...BASE_CAPABILITIES,
    fencing: 'volatile',
  })
  #server: ServerFacts | undefined
  #runId: string | undefined
  #init: Promise<void> | undefined
  #closing: Promise<void> | undefined
  /** Acquire scripts sent and not yet answered; close() waits for them so no grant leaks. */
  readonly #inFlight = new Set<Promise<unknown>>()

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
    if ((options.url === undefined) === (options.client === undefined)) {
      throw new TypeError('RedisDriver needs exactly one of `url` and `client`')
    }
    const commandTimeoutMs = options.commandTimeoutMs ?? 2_000
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 5_000
    this.#prefix = options.prefix ?? 'baton'
    this.#onWarning = options.onWarning ?? ((m) => process.emitWarning(m, { code: 'BATON_REDIS' }))
    let client: Redis
    let subscriber: () => Redis
    if (options.url !== undefined) {
      const { url } = options
      const extra = options.clientOptions ?? {}
      client = clientFromUrl(url, extra, commandTimeoutMs, this.#connectTimeoutMs)
      subscriber = () =>
        client.duplicate({ enableOfflineQueue: true, autoResubscribe: false, lazyConnect: false })
      this.#ownsClient = options.ownsClient ?? true
    } else {
      client = options.client as Redis
      if (client.options.keyPrefix) {
        throw new TypeError(
          'RedisDriver: the client must not use keyPrefix (use the `prefix` option)',
        )
      }
      for (const w of clientOptionWarnings(client)) this.#warn(w)
      subscriber = () =>
        client.duplicate({ enableOfflineQueue: true, autoResubscribe: false, lazyConnect: false })
      this.#ownsClient = options.ownsClient ?? false
    }
    client.on('error', this.#ignoreError)
    this.#client = defineScripts(client)
    this.#listener = new ReleaseListener(
      subscriber,
      commandTimeoutMs,
      options.subscriptionLingerMs ?? 1_000,
    )
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
    await this.ready()
    const keys = lockKeys(this.#prefix, req.key)
    const deadlineMs = performance.now() + req.waitMs
    if (req.waitMs <= 0) {
      const result = await this.#attempt(req, keys)
      return typeof result === 'number' ? null : result
    }
    // Waiting: subscribe first, then try (in the queue, in arrival order), so no release
    // between a failed try and the subscription goes unseen.
    const ticket = this.#listener.enter(keys.channel)
    try {
      let tried = false
      for (;;) {
        const myTurn = await ticket.turn(deadlineMs, req.signal)
        // A wait shorter than the subscription still gets its one try (unless aborted or closed).
        if (!myTurn && (tried || req.signal.aborted || this.#closing !== undefined)) return null
        tried = true
        const result = await this.#attempt(req, keys)
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
    await this.ready()
    const ttl = Math.max(1, Math.floor(ttlMs))
    const sentAtMs = performance.now()
    const replies: Array<0 | 1> = []
    const chunks: Array<Array<string | number>> = []
    for (let i = 0; i < leases.length; i += RENEW_CHUNK) {
      const chunk = leases.slice(i, i + RENEW_CHUNK)
      chunks.push([
        chunk.length,
        ...chunk.map((l) => this.#keysOf(l).lock),
        ttl,
        ...chunk.map((l) => l.owner),
      ])
    }
    if (chunks.length === 1) {
      replies.push(...(await this.#client.batonRenewMany(...(chunks[0] as [number, ...string[]]))))
    } else if (chunks.length > 1) {
      const pipeline = this.#pipeline()
      for (const args of chunks) pipeline.batonRenewMany(...(args as [number, ...string[]]))
      for (const [err, reply] of (await pipeline.exec()) ?? []) {
        if (err) throw err
        replies.push(...(reply as Array<0 | 1>))
      }
    }
    return leases.map((lease, i) => {
      if (replies[i] === 1) {
        const tracked = this.#leases.get(lease)
        if (tracked !== undefined) tracked.expiresAtMs = sentAtMs + ttl
        return { ok: true, ttlMs: ttl }
      }
      this.#leases.lose(
        lease,
        new Error(`redis: lock key of "${lease.key}" is gone or has another owner`),
      )
      return { ok: false }
    })
  }

  async release(lease: DriverLease): Promise<boolean> {
    await this.ready()
    const keys = this.#keysOf(lease)
    const released = await this.#client.batonRelease(keys.lock, lease.owner, keys.channel)
    this.#leases.delete(lease)
    return released === 1
  }

  async inspect(key: string): Promise<LockInfo | null> {
    await this.ready()
    const keys = lockKeys(this.#prefix, key)
    const [owner, pttlMs, fence] = await this.#client.batonInspect(keys.lock, keys.fence)
    return owner === null ? null : toInfo(owner, pttlMs, fence)
  }

  async list(prefix: string): Promise<Array<LockInfo & { readonly key: string }>> {
    await this.ready()
    const found: Array<LockInfo & { readonly key: string }> = []
    let cursor = '0'
    do {
      const [next, lockKeysFound] = await this.#client.scan(
        cursor,
        'MATCH',
        lockKeyPattern(this.#prefix),
        'COUNT',
        1000,
      )
      cursor = next
      if (lockKeysFound.length === 0) continue
      const pipeline = this.#pipeline()
      for (const lock of lockKeysFound) pipeline.batonInspect(lock, fenceKeyOf(lock))
      for (const [err, reply] of (await pipeline.exec()) ?? []) {
        if (err) throw err
        const [owner, pttlMs, fence, name] = reply as [
          string | null,
          number,
          string | null,
          string | null,
        ]
        if (owner && name?.startsWith(prefix)) {
          found.push({ key: name, ...toInfo(owner, pttlMs, fence) })
        }
      }
    } while (cursor !== '0')
    return found.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
  }

  async forceRelease(key: string): Promise<boolean> {
    await this.ready()
    const keys = lockKeys(this.#prefix, key)
    return (await this.#client.batonForceRelease(keys.lock, keys.channel)) === 1
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
    const sent = this.#client.batonAcquire(keys.lock, keys.fence, req.owner, ttlMs, req.key)
    this.#inFlight.add(sent)
    const settled = () => this.#inFlight.delete(sent)
    sent.then(settled, settled)
    // A reply that comes after an abort, or never (timeout), may still be a grant: free it (S4).
    const cleanUp = () => {
      this.#client.batonRelease(keys.lock, req.owner, keys.channel).catch(() => undefined)
    }
    const reply = await abortable(sent, req.signal).catch((err: unknown) => {
      cleanUp()
      throw err
    })
    if (reply === undefined) {
      sent.then(([granted]) => granted === 1 && cleanUp()).catch(() => undefined)
      return null
    }
    if (reply[0] !== 1) return reply[1]
    if (req.signal.aborted) {
      cleanUp()
      return null
    }
    const controller = new AbortController()
    const lease: DriverLease = {
      key: req.key,
      owner: req.owner,
      fence: BigInt(reply[1]),
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
    const facts = await readServerFacts(this.#client)
    this.#server = facts
    this.#runId = facts.runId
    this.#capabilities = defineCapabilities({
      ...BASE_CAPABILITIES,
      fencing: facts.aof ? 'durable' : 'volatile',
    })
    const eviction = evictionWarning(facts)
    if (eviction !== undefined) this.#warn(eviction)
    if (facts.runId === undefined)
      this.#warn('redis INFO has no run_id: server restarts cannot be detected')
    this.#client.off('ready', this.#onReconnect)
    this.#client.on('ready', this.#onReconnect)
  }

  /** After any reconnect: a new run_id means a restart or failover, and every lease is suspect. */
  readonly #onReconnect = (): void => {
    readRunId(this.#client)
      .then((runId) => {
        if (runId !== undefined && this.#runId !== undefined && runId !== this.#runId) {
          this.#leases.loseAll(
            new Error('redis: the server restarted or failed over (run_id changed)'),
          )
        }
        if (runId !== undefined) this.#runId = runId
      })
      .catch(() => undefined)
  }

  readonly #ignoreError = (): void => {
    // ioredis reconnects by itself; commands fail fast meanwhile and report their own errors.
  }

  async #shutdown(): Promise<void> {
    this.#listener.close()
    await Promise.allSettled([...this.#inFlight])
    const held = this.#leases.drain()
    if (held.length > 0 && this.#client.status === 'ready') {
      const pipeline = this.#pipeline()
      for (const { lease, keys } of held)
        pipeline.batonRelease(keys.lock, lease.owner, keys.channel)
      await pipeline.exec().catch(() => undefined)
    }
    this.#client.off('ready', this.#onReconnect)
    if (this.#ownsClient) {
      if (this.#client.status === 'ready') await this.#client.quit().catch(() => undefined)
      this.#client.disconnect()
    }
    this.#client.off('error', this.#ignoreError)
  }

  #pipeline(): ScriptedPipeline {
    return this.#client.pipeline() as unknown as ScriptedPipeline
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

function toInfo(owner: string, pttlMs: number, fence: string | null): LockInfo {
  return {
    held: true,
    owner,
    ...(fence === null ? {} : { fence: BigInt(fence) }),
    ...(pttlMs >= 0 ? { ttlRemainingMs: pttlMs } : {}),
  }
}

/** Resolves with the value, or undefined as soon as `signal` aborts. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T | undefined> {
  if (signal.aborted) return Promise.resolve(undefined)
  return new Promise<T | undefined>((resolve, reject) => {
    const onAbort = () => resolve(undefined)
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort)
        resolve(value)
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort)
        reject(err)
      },
    )
  })
}
