import type { Capabilities } from '@baton-lock/core'
import {
  type AcquireRequest,
  Backoff,
  type DriverLease,
  DriverLifecycle,
  defineCapabilities,
  LeaseBook,
  type LockDriver,
  type LockInfo,
  type RenewResult,
} from '@baton-lock/core/driver'
import { Redis, type RedisOptions } from 'ioredis'
import { connectClient, SAFE_CLIENT_OPTIONS } from './create-client.js'
import { parseMultiHostUrl } from './multi-host-url.js'
import { checkLayout, fenceKeyPattern, type KeyLayout, quorumKeys } from './plain-layout.js'
import { LockKeyCache } from './redis-key.js'
import {
  defineQuorumScripts,
  type QuorumCallKeys,
  type QuorumClient,
  quorumAcquireOn,
  quorumCallKeys,
  quorumReleaseOn,
} from './redlock-scripts.js'
import { QuorumWakeups } from './redlock-wakeups.js'
import { evictionWarning, readRunId, readServerFacts } from './server-facts.js'

/** Options of a `RedlockDriver`: exactly one of `url` and `nodes`. */
export interface RedlockDriverOptions {
  /** `redlock://[user:password@]host:port,host:port,...[?layout=plain]`: independent masters. */
  readonly url?: string
  /** The independent masters: `redis://` URLs or ioredis clients (see `RedisDriverOptions.client`). */
  readonly nodes?: ReadonlyArray<string | Redis>
  /** Whether `close()` closes the clients. Default: true for URLs, false for clients. */
  readonly ownsClients?: boolean
  /** Key names: `baton` (hashed, default) or `plain` (the lock key is the lock's name: redis-py's `Lock`). */
  readonly layout?: KeyLayout
  /** First segment of the driver's own keys and channels. Default "baton". */
  readonly prefix?: string
  /** Clock drift allowed, as a share of the TTL, taken off every lease's validity. Default 0.01. */
  readonly driftFactor?: number
  /** Fixed drift allowance in ms on top of `driftFactor`. Default 2. */
  readonly driftMs?: number
  /** Per-node command timeout, in ms. Default 1000 (keep it well under the TTL). */
  readonly commandTimeoutMs?: number
  /** Connect timeout per node, in ms. Default 5000. */
  readonly connectTimeoutMs?: number
  /** Extra ioredis options for clients created from URLs (the safety options always win). */
  readonly clientOptions?: RedisOptions
  /**
   * How often a waiter tries again while the key is held, in ms, besides push wake-ups and the
   * holder's PTTL. Default 100 with the plain layout (other clients' releases publish
   * nothing), none with the baton layout.
   */
  readonly pollMs?: number
  /** Random pause up to this many ms after a split vote (no majority for anyone). Default 50. */
  readonly retryJitterMs?: number
  /** How long a channel stays subscribed after its last waiter left, in ms. Default 1000. */
  readonly subscriptionLingerMs?: number
  /** Receives each deployment warning found at connect. Default: `process.emitWarning`. */
  readonly onWarning?: (message: string) => void
}

/** One independent master. */
interface QuorumNode {
  readonly client: QuorumClient
  /** No ioredis `keyPrefix` on the client: acquire and release go as `ScriptCall`s. */
  readonly direct: boolean
  /** `host:port`, for messages (never credentials). */
  readonly label: string
  runId: string | undefined
  readonly onReady: () => void
}

interface QuorumLease {
  readonly keys: QuorumCallKeys
}

/** Thrown when fewer than a majority of the nodes answered (not a refusal: nobody can tell who holds it). */
export class QuorumUnavailableError extends Error {
  override readonly name = 'QuorumUnavailableError'
}

/**
 * Baton driver over N independent Redis masters (the Redlock algorithm, with its limits
 * stated in the package README): a lock is granted when a majority of the nodes granted it
 * within the validity budget (TTL minus the time the round took minus the drift allowance),
 * renewed on a majority, released everywhere. The fence is the largest of the per-node
 * counters of the granting majority, written back to a majority before the lease is
 * returned, so it is strictly increasing across holders as long as no node of that majority
 * loses its counter (a restart without persistence does).
 */
export class RedlockDriver implements LockDriver {
  readonly name = 'redlock'
  readonly #nodes: QuorumNode[]
  readonly #quorum: number
  readonly #ownsClients: boolean
  readonly #layout: KeyLayout
  /** Each key's quorum keys and their encodings, for the last 1,024 keys (no SHA-256 per cycle). */
  readonly #keys: LockKeyCache<QuorumCallKeys>
  readonly #prefix: string
  readonly #driftFactor: number
  readonly #driftMs: number
  readonly #connectTimeoutMs: number
  readonly #subscribeWaitMs: number
  readonly #pollMs: number | undefined
  readonly #retryJitterMs: number
  readonly #onWarning: (message: string) => void
  readonly #leases = new LeaseBook<QuorumLease>()
  readonly #lifecycle = new DriverLifecycle('redlock')
  readonly #wakeups: QuorumWakeups
  readonly #warnings: string[] = []
  #capabilities: Readonly<Capabilities>
  #init: Promise<void> | undefined
  #ready = false

  /** An unconnected driver for a `redlock://` URL (`connect(url)` awaits `ready()`). */
  static fromUrl(url: string): RedlockDriver {
    return new RedlockDriver({ url })
  }

  /** Creates a driver and connects it (a majority of the nodes must answer). */
  static async connect(options: RedlockDriverOptions): Promise<RedlockDriver> {
    const driver = new RedlockDriver(options)
    try {
      await driver.ready()
    } catch (err) {
      await driver.close()
      throw err
    }
    return driver
  }

  constructor(options: RedlockDriverOptions) {
    if ((options.url === undefined) === (options.nodes === undefined)) {
      throw new TypeError('RedlockDriver needs exactly one of `url` and `nodes`')
    }
    const commandTimeoutMs = positive(options.commandTimeoutMs ?? 1_000, 'commandTimeoutMs')
    this.#connectTimeoutMs = positive(options.connectTimeoutMs ?? 5_000, 'connectTimeoutMs')
    this.#driftFactor = options.driftFactor ?? 0.01
    if (!(this.#driftFactor >= 0 && this.#driftFactor < 0.5)) {
      throw new RangeError('driftFactor must be at least 0 and below 0.5')
    }
    this.#driftMs = nonNegative(options.driftMs ?? 2, 'driftMs')
    this.#retryJitterMs = nonNegative(options.retryJitterMs ?? 50, 'retryJitterMs')
    this.#prefix = options.prefix ?? 'baton'
    this.#onWarning = options.onWarning ?? ((m) => process.emitWarning(m, { code: 'BATON_REDIS' }))
    const base: RedisOptions = {
      connectTimeout: this.#connectTimeoutMs,
      commandTimeout: commandTimeoutMs,
      ...options.clientOptions,
      ...SAFE_CLIENT_OPTIONS,
      lazyConnect: true,
    }
    let layout = options.layout
    let clients: Redis[]
    if (options.url !== undefined) {
      const parsed = parseMultiHostUrl(options.url)
      if (!parsed.scheme.endsWith('redlock')) {
        throw new TypeError('invalid Redis URL: RedlockDriver takes redlock://host:port,...')
      }
      if (parsed.path.length > 0) throw new TypeError('invalid redlock URL: no path expected')
      layout ??= (parsed.params.get('layout') as KeyLayout | null) ?? undefined
      clients = parsed.hosts.map(
        ({ host, port }) =>
          new Redis({
            ...base,
            host,
            port,
            ...(parsed.username === undefined ? {} : { username: parsed.username }),
            ...(parsed.password === undefined ? {} : { password: parsed.password }),
            ...(parsed.tls ? { tls: options.clientOptions?.tls ?? {} } : {}),
          }),
      )
      this.#ownsClients = options.ownsClients ?? true
    } else {
      const nodes = options.nodes ?? []
      clients = nodes.map((node) => {
        if (typeof node === 'string') {
          const url = new URL(node) // throws TypeError; checked below without echoing
          if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
            throw new TypeError('RedlockDriver nodes must be redis:// or rediss:// URLs')
          }
          return new Redis(node, base)
        }
        if (typeof node?.defineCommand !== 'function') {
          throw new TypeError('RedlockDriver nodes must be redis:// URLs or ioredis clients')
        }
        return node
      })
      this.#ownsClients = options.ownsClients ?? nodes.every((n) => typeof n === 'string')
    }
    if (clients.length === 0) throw new TypeError('RedlockDriver needs at least one node')
    this.#layout = checkLayout(layout)
    const keyLayout = this.#layout
    this.#keys = new LockKeyCache(this.#prefix, (prefix, key) =>
      quorumCallKeys(quorumKeys(keyLayout, prefix, key), key),
    )
    this.#pollMs =
      options.pollMs !== undefined
        ? positive(options.pollMs, 'pollMs')
        : this.#layout === 'plain'
          ? 100
          : undefined
    this.#quorum = Math.floor(clients.length / 2) + 1
    this.#subscribeWaitMs = commandTimeoutMs
    this.#nodes = clients.map((client) => {
      client.on('error', ignore)
      const o = client.options
      const node: QuorumNode = {
        client: defineQuorumScripts(client),
        direct: !o.keyPrefix,
        label: `${o.host ?? '?'}:${o.port ?? '?'}`,
        runId: undefined,
        onReady: () => this.#onReconnect(node),
      }
      return node
    })
    this.#wakeups = new QuorumWakeups(
      clients.map(
        (client) => () =>
          client.duplicate({ enableOfflineQueue: true, autoResubscribe: true, lazyConnect: false }),
      ),
      options.subscriptionLingerMs ?? 1_000,
    )
    this.#capabilities = capabilities('volatile')
  }

  get capabilities(): Readonly<Capabilities> {
    return this.#capabilities
  }

  /** Number of nodes and the majority a grant needs. */
  get quorum(): { readonly nodes: number; readonly majority: number } {
    return { nodes: this.#nodes.length, majority: this.#quorum }
  }

  get warnings(): readonly string[] {
    return [...this.#warnings]
  }

  /** Acquires of this driver waiting for a key. */
  get waiting(): number {
    return this.#wakeups.waiterCount
  }

  /** The node clients (tests and operations). */
  get clients(): readonly Redis[] {
    return this.#nodes.map((n) => n.client)
  }

  /** Connects every node (a majority must answer) and reads persistence and eviction settings. */
  ready(): Promise<void> {
    if (this.#lifecycle.closing) return Promise.reject(this.#lifecycle.closedError())
    this.#init ??= this.#initialize().catch((err: unknown) => {
      this.#init = undefined
      throw err
    })
    return this.#init
  }

  async acquire(req: AcquireRequest): Promise<DriverLease | null> {
    if (!this.#ready) await this.ready()
    const keys = this.#keys.get(req.key)
    if (req.waitMs <= 0) {
      const result = await this.#attempt(req, keys)
      return typeof result === 'number' ? null : result
    }
    return this.#wait(req, keys)
  }

  async renew(lease: DriverLease, ttlMs: number): Promise<RenewResult> {
    const [result] = await this.renewMany([lease], ttlMs)
    return result ?? { ok: false }
  }

  /** Compare-and-PEXPIRE on every node, one pipeline per node; a lease stays where a majority renewed in time. */
  async renewMany(leases: readonly DriverLease[], ttlMs: number): Promise<RenewResult[]> {
    if (!this.#ready) await this.ready()
    if (leases.length === 0) return []
    const ttl = Math.max(1, Math.floor(ttlMs))
    const startedAt = performance.now()
    const keys = leases.map((lease) => this.#keysOf(lease))
    const perNode = await Promise.allSettled(
      this.#nodes.map(async (node) => {
        const pipeline = node.client.pipeline() as unknown as {
          quorumRenew(lock: string, owner: string, ttl: number): unknown
          exec(): Promise<Array<[Error | null, unknown]> | null>
        }
        leases.forEach((lease, i) => {
          pipeline.quorumRenew((keys[i] as QuorumCallKeys).lock, lease.owner, ttl)
        })
        const replies = (await pipeline.exec()) ?? []
        // A node whose connection failed answers every command with an error: it did not answer.
        if (replies.length < leases.length || replies.some(([err]) => err !== null)) {
          throw new Error(`redlock: ${node.label} did not answer the renewal`)
        }
        return replies.map(([, reply]) => reply === 1)
      }),
    )
    const answered = perNode.filter((r) => r.status === 'fulfilled').length
    if (answered < this.#quorum) throw this.#unavailable('renew', answered)
    const validityMs = ttl - (performance.now() - startedAt) - this.#drift(ttl)
    return leases.map((lease, i) => {
      let renewed = 0
      for (const r of perNode) if (r.status === 'fulfilled' && r.value[i]) renewed++
      if (renewed >= this.#quorum && validityMs > 0)
        return { ok: true, ttlMs: ttl - this.#drift(ttl) }
      this.#leases.lose(
        lease,
        new Error(
          `redlock: "${lease.key}" renewed on ${renewed} of ${this.#nodes.length} nodes in time; a majority (${this.#quorum}) is needed`,
        ),
      )
      this.#lifecycle.track(this.#releaseEverywhere(keys[i] as QuorumCallKeys, lease.owner))
      return { ok: false }
    })
  }

  /** Compare-and-delete on every node; true when a majority still had it. */
  async release(lease: DriverLease): Promise<boolean> {
    if (!this.#ready) await this.ready()
    const released = await this.#releaseEverywhere(this.#keysOf(lease), lease.owner)
    this.#leases.forget(lease)
    return released >= this.#quorum
  }

  /** The owner a majority of the nodes name, its largest counter and shortest PTTL; null when none. */
  async inspect(key: string): Promise<LockInfo | null> {
    if (!this.#ready) await this.ready()
    const keys = quorumKeys(this.#layout, this.#prefix, key)
    const replies = await Promise.allSettled(
      this.#nodes.map((n) => n.client.quorumInspect(keys.lock, keys.fence)),
    )
    const answers = replies.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []))
    if (answers.length < this.#quorum) throw this.#unavailable('inspect', answers.length)
    const byOwner = new Map<string, Array<[string | null, number, string | null, string | null]>>()
    for (const answer of answers) {
      if (answer[0] === null) continue
      const list = byOwner.get(answer[0]) ?? []
      list.push(answer)
      byOwner.set(answer[0], list)
    }
    for (const [owner, held] of byOwner) {
      if (held.length < this.#quorum) continue
      const fence = held.reduce((max, h) => {
        const n = h[2] === null ? 0n : BigInt(h[2])
        return n > max ? n : max
      }, 0n)
      const pttls = held.map((h) => h[1]).filter((t) => t >= 0)
      return {
        held: true,
        owner,
        fence,
        ...(pttls.length > 0 ? { ttlRemainingMs: Math.min(...pttls) } : {}),
      }
    }
    return null
  }

  async list(prefix: string): Promise<Array<LockInfo & { readonly key: string }>> {
    if (!this.#ready) await this.ready()
    const names = new Set<string>()
    await Promise.allSettled(
      this.#nodes.map(async (node) => {
        let cursor = '0'
        do {
          const pattern = fenceKeyPattern(this.#layout, this.#prefix)
          const [next, found] = await node.client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000)
          cursor = next
          if (found.length === 0) continue
          const pipeline = node.client.pipeline()
          for (const fence of found) pipeline.hget(fence, 'key')
          for (const [err, name] of (await pipeline.exec()) ?? []) {
            if (err === null && typeof name === 'string' && name.startsWith(prefix)) names.add(name)
          }
        } while (cursor !== '0')
      }),
    )
    const found: Array<LockInfo & { readonly key: string }> = []
    for (const key of [...names].sort()) {
      const info = await this.inspect(key)
      if (info !== null) found.push({ key, ...info })
    }
    return found
  }

  async forceRelease(key: string): Promise<boolean> {
    if (!this.#ready) await this.ready()
    const keys = quorumKeys(this.#layout, this.#prefix, key)
    const replies = await Promise.allSettled(
      this.#nodes.map((n) => n.client.quorumForceRelease(keys.lock, keys.channel)),
    )
    return replies.some((r) => r.status === 'fulfilled' && r.value === 1)
  }

  /** Frees whatever a failed acquire of `req` may have been granted, on every node, owner-checked. */
  async abandon(req: AcquireRequest): Promise<void> {
    await this.#releaseEverywhere(this.#keys.get(req.key), req.owner)
  }

  close(): Promise<void> {
    const closed = this.#lifecycle.close(() => this.#shutdown(), this.#subscribeWaitMs + 1_000)
    this.#wakeups.close()
    return closed
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  /** Drift allowance for a lease of `ttlMs`. */
  #drift(ttlMs: number): number {
    return Math.floor(ttlMs * this.#driftFactor) + this.#driftMs
  }

  /**
   * One round: SET NX PX on every node at once. A lease when a majority granted within the
   * validity budget (and their counters agree on the fence); otherwise whatever was granted
   * is released again and the result is the holder's shortest PTTL (-1 when unknown).
   */
  async #attempt(req: AcquireRequest, keys: QuorumCallKeys): Promise<DriverLease | number> {
    const ttl = Math.max(1, Math.floor(req.ttlMs))
    const startedAt = performance.now()
    const round = Promise.allSettled(
      this.#nodes.map((n) => quorumAcquireOn(n.client, n.direct, keys, req.owner, ttl, req.key)),
    )
    this.#lifecycle.track(round)
    const replies = await round
    const granted: Array<{ node: QuorumNode; counter: number }> = []
    const pttls: number[] = []
    replies.forEach((r, i) => {
      if (r.status !== 'fulfilled') return
      const [ok, value] = r.value
      if (ok === 1) granted.push({ node: this.#nodes[i] as QuorumNode, counter: value })
      else if (value >= 0) pttls.push(value)
      else pttls.push(-1)
    })
    const answered = granted.length + pttls.length
    if (granted.length >= this.#quorum) {
      const fence = Math.max(...granted.map((g) => g.counter))
      const behind = granted.filter((g) => g.counter < fence)
      let atFence = granted.length - behind.length
      if (behind.length > 0) {
        // Write the fence back, so that a majority has a counter >= fence while we hold it.
        const raised = await Promise.allSettled(
          behind.map((g) =>
            g.node.client.quorumRaise(keys.lock, keys.fence, req.owner, String(fence)),
          ),
        )
        atFence += raised.filter((r) => r.status === 'fulfilled' && r.value === 1).length
      }
      const validityMs = ttl - (performance.now() - startedAt) - this.#drift(ttl)
      if (atFence >= this.#quorum && validityMs > 0) {
        const grant = { fence: BigInt(fence), ttlMs: ttl - this.#drift(ttl), sentAtMs: startedAt }
        const lease = this.#leases.grant(req, grant, { keys })
        if (!this.#lifecycle.closing) return lease
        return -1 // granted while closing: close() releases it with the others
      }
    }
    if (granted.length > 0) await this.#releaseEverywhere(keys, req.owner)
    else if (answered < this.#nodes.length) {
      // A node that did not answer in time may still run the SET (a held or slow link
      // delivers it later, after this acquire may have ended): release there too,
      // owner-checked, on the same connection, so it runs right after that SET (S4).
      this.#lifecycle.track(this.#releaseEverywhere(keys, req.owner))
    }
    if (answered < this.#quorum) throw this.#unavailable('acquire', answered)
    const known = pttls.filter((t) => t >= 0)
    // Split vote (nobody holds a majority): the shortest PTTL may be 0; retry after a jitter.
    return known.length > 0 ? Math.min(...known) : -1
  }

  async #wait(req: AcquireRequest, keys: QuorumCallKeys): Promise<DriverLease | null> {
    const deadlineMs = performance.now() + req.waitMs
    const wakeup = this.#wakeups.enter(keys.channel)
    const backoff = new Backoff({ minMs: 20, maxMs: 1_000 })
    let lastError: unknown
    try {
      await wakeup.subscribed(
        Math.min(deadlineMs, performance.now() + this.#subscribeWaitMs),
        req.signal,
      )
      for (let tries = 0; ; tries++) {
        if (
          req.signal.aborted ||
          this.#lifecycle.closing ||
          (performance.now() >= deadlineMs && tries > 0)
        ) {
          if (lastError !== undefined && !req.signal.aborted) throw lastError
          return null
        }
        wakeup.arm()
        let result: DriverLease | number
        try {
          result = await this.#attempt(req, keys)
        } catch (err) {
          if (tries === 0) throw err
          lastError = err
          await wakeup.sleep(
            Math.min(deadlineMs, performance.now() + backoff.next(deadlineMs - performance.now())),
            req.signal,
          )
          continue
        }
        lastError = undefined
        backoff.reset()
        if (typeof result !== 'number') return result
        if (this.#lifecycle.closing) return null
        const jitter = Math.random() * this.#retryJitterMs
        let untilMs = performance.now() + (result >= 0 ? result + 1 : this.#retryJitterMs) + jitter
        if (this.#pollMs !== undefined)
          untilMs = Math.min(untilMs, performance.now() + this.#pollMs)
        await wakeup.sleep(Math.min(deadlineMs, untilMs), req.signal)
      }
    } finally {
      wakeup.leave()
    }
  }

  /** Compare-and-delete (plus PUBLISH) on every node; how many still had it. Never throws. */
  async #releaseEverywhere(keys: QuorumCallKeys, owner: string): Promise<number> {
    const replies = await Promise.allSettled(
      this.#nodes.map((n) => quorumReleaseOn(n.client, n.direct, keys, owner)),
    )
    return replies.filter((r) => r.status === 'fulfilled' && r.value === 1).length
  }

  #unavailable(what: string, answered: number): QuorumUnavailableError {
    return new QuorumUnavailableError(
      `redlock: ${what} reached ${answered} of ${this.#nodes.length} nodes; a majority (${this.#quorum}) must answer`,
    )
  }

  #keysOf(lease: DriverLease): QuorumCallKeys {
    return this.#leases.get(lease)?.data.keys ?? this.#keys.get(lease.key)
  }

  async #initialize(): Promise<void> {
    const connected = await Promise.allSettled(
      this.#nodes.map((n) => connectClient(n.client, this.#connectTimeoutMs, this.#ownsClients)),
    )
    const up = this.#nodes.filter((_, i) => connected[i]?.status === 'fulfilled')
    if (up.length < this.#quorum) {
      const failed = connected.find((r): r is PromiseRejectedResult => r.status === 'rejected')
      throw new QuorumUnavailableError(
        `redlock: connected to ${up.length} of ${this.#nodes.length} nodes; a majority (${this.#quorum}) is needed (${failed?.reason instanceof Error ? failed.reason.message : 'unknown error'})`,
      )
    }
    const facts = await Promise.all(up.map((n) => readServerFacts(n.client)))
    facts.forEach((f, i) => {
      const node = up[i] as QuorumNode
      node.runId = f.runId
      const eviction = evictionWarning(f)
      if (eviction !== undefined) this.#warn(`${node.label}: ${eviction}`)
    })
    for (const node of this.#nodes) {
      node.client.off('ready', node.onReady)
      node.client.on('ready', node.onReady)
    }
    const durable = up.length === this.#nodes.length && facts.every((f) => f.aof)
    if (!durable) {
      this.#warn(
        `redlock: not every node has the append-only file on: a node that restarts empty forgets the locks it granted and can help a second holder to a majority; keep a restarted node out for the longest TTL (delayed restart) or enable AOF with appendfsync always`,
      )
    }
    this.#capabilities = capabilities(durable ? 'durable' : 'volatile')
    this.#ready = true
  }

  /** A node reconnected: if it restarted (new run id) it may have forgotten locks; re-count every lease. */
  #onReconnect(node: QuorumNode): void {
    readRunId(node.client)
      .then(async (runId) => {
        const restarted = runId !== undefined && node.runId !== undefined && runId !== node.runId
        node.runId = runId ?? node.runId
        if (!restarted) return
        const entries = [...this.#leases.entries()]
        await Promise.all(
          entries.map(async ({ lease, data }) => {
            const owners = await Promise.allSettled(
              this.#nodes.map((n) => n.client.get(data.keys.lock)),
            )
            const holding = owners.filter(
              (o) => o.status === 'fulfilled' && o.value === lease.owner,
            ).length
            if (holding < this.#quorum) {
              this.#leases.lose(
                lease,
                new Error(
                  `redlock: node ${node.label} restarted; "${lease.key}" is held on ${holding} of ${this.#nodes.length} nodes, below a majority (${this.#quorum})`,
                ),
              )
            }
          }),
        )
      })
      .catch(() => undefined)
  }

  async #shutdown(): Promise<void> {
    const held = this.#leases.drain()
    await Promise.all(
      held.map(({ lease, data }) => this.#releaseEverywhere(data.keys, lease.owner)),
    )
    if (this.#ownsClients) {
      await Promise.all(
        this.#nodes.map(async (n) => {
          if (n.client.status === 'ready') await n.client.quit().catch(() => undefined)
          n.client.disconnect()
        }),
      )
    }
    for (const n of this.#nodes) {
      n.client.off('error', ignore)
      n.client.off('ready', n.onReady)
    }
  }

  #warn(message: string): void {
    this.#warnings.push(message)
    try {
      this.#onWarning(message)
    } catch {
      // a throwing listener must not break the driver
    }
  }
}

function capabilities(fencing: 'durable' | 'volatile'): Readonly<Capabilities> {
  return defineCapabilities({
    expiry: 'lease',
    ttlResolutionMs: 1,
    nativeWait: true,
    fair: false,
    fencing,
    lossSignal: true,
    maxKeyBytes: 4096,
    inspect: true,
    sharedLocks: false,
  })
}

function ignore(): void {}

function positive(value: number, name: string): number {
  if (!Number.isFinite(value) || value <= 0)
    throw new RangeError(`${name} must be a positive number`)
  return value
}

function nonNegative(value: number, name: string): number {
  if (!Number.isFinite(value) || value < 0) throw new RangeError(`${name} must be a number >= 0`)
  return value
}
