import {
  type AcquireRequest,
  type Capabilities,
  type DriverLease,
  DriverLifecycle,
  LeaseBook,
  type LockDriver,
  type LockInfo,
  type RenewResult,
} from '@baton-lock/core/driver'
import { Etcd3 } from 'etcd3'
import { etcdCapabilities } from './etcd-capabilities.js'
import { batonKeyOf, etcdLockName, lockNameOfKey, waiterKey } from './etcd-key.js'
import {
  type EtcdDriverOptions,
  type ResolvedEtcdOptions,
  resolveEtcdOptions,
} from './etcd-options.js'
import { KeepAliveStream } from './keepalive-stream.js'
import { LeasePool } from './lease-pool.js'
import { MutexProtocol, type QueuedKey } from './mutex-protocol.js'
import { waitInQueue } from './queue-wait.js'
import type { SharedLease } from './shared-lease.js'
import { WatchHub } from './watch-hub.js'

/** What the driver keeps per held lock: its etcd key, create revision (fence) and lease. */
interface HeldKey {
  readonly key: Buffer
  readonly createRevision: string
  shared: SharedLease
}

/** How long an abandoned wait may hold up the caller while its key is deleted (L3 budget). */
const CLEANUP_WAIT_MS = 60

function leaseNotFound(err: unknown): boolean {
  return err instanceof Error && /lease not found/i.test(err.message)
}

/**
 * Baton driver for etcd with the protocol of etcd's Go `concurrency.Mutex`, so that
 * `etcdctl lock NAME` and Go services exclude Baton and vice versa (see the README for the
 * key mapping). One lease per TTL is shared by all keys of the driver and kept alive by the
 * driver; waits go through one long-lived watch stream; the fence is the key's create revision.
 */
export class EtcdDriver implements LockDriver {
  readonly name = 'etcd'
  readonly capabilities: Readonly<Capabilities> = etcdCapabilities
  readonly #options: ResolvedEtcdOptions
  readonly #client: Etcd3
  readonly #protocol: MutexProtocol
  readonly #keepAlive: KeepAliveStream
  readonly #pool: LeasePool
  readonly #watch: WatchHub
  readonly #lifecycle = new DriverLifecycle('etcd')
  readonly #book = new LeaseBook<HeldKey>()
  /** Deletions of abandoned waiter keys in flight, by lock name: the next acquire waits for them. */
  readonly #cleanups = new Map<string, Promise<void>>()
  #ready: Promise<void> | undefined

  /** Builds an unconnected driver from `etcd://` or `etcds://` (connect() then awaits ready()). */
  static fromUrl(url: string): EtcdDriver {
    return new EtcdDriver({ url })
  }

  constructor(options: EtcdDriverOptions) {
    this.#options = resolveEtcdOptions(options)
    this.#client = this.#options.client ?? new Etcd3(this.#options.clientOptions)
    this.#protocol = new MutexProtocol(this.#client)
    this.#keepAlive = new KeepAliveStream(this.#client, this.#options.operationTimeoutMs)
    this.#pool = new LeasePool({
      client: this.#client,
      keepAlive: this.#keepAlive,
      callOptions: () => this.#call(),
      lingerMs: this.#options.leaseLingerMs,
      onDead: (lease, reason) => {
        this.#book.loseWhere((entry) => entry.data.shared === lease, reason)
      },
    })
    this.#watch = new WatchHub(this.#client, `${this.#options.prefix}\u0000baton-watch-anchor`)
  }

  /** The `Etcd3` client (tests and operations). */
  get client(): Etcd3 {
    return this.#client
  }

  /** The etcd lock name (`etcdctl lock NAME`) of a namespaced Baton key under this driver's prefix. */
  lockName(key: string): string {
    return etcdLockName(key, this.#options.prefix)
  }

  /** Leases this driver keeps alive, and watchers open (tests, H1). */
  get stats(): { readonly leases: number; readonly watchers: number; readonly held: number } {
    return { leases: this.#pool.size, watchers: this.#watch.watcherCount, held: this.#book.size }
  }

  /** Proves the cluster answers with one read; retried after a failure. Idempotent. */
  ready(): Promise<void> {
    if (this.#lifecycle.closing) return Promise.reject(this.#lifecycle.closedError())
    this.#ready ??= this.#client.kv
      .range({ key: Buffer.from(this.#options.prefix || '\u0000'), count_only: true }, this.#call())
      .then(() => undefined)
      .catch((err: unknown) => {
        this.#ready = undefined
        throw err
      })
    return this.#ready
  }

  async acquire(req: AcquireRequest): Promise<DriverLease | null> {
    this.#lifecycle.assertOpen()
    await this.ready()
    const name = this.lockName(req.key)
    const signal = AbortSignal.any([req.signal, this.#lifecycle.signal])
    const deadlineMs = performance.now() + req.waitMs
    for (;;) {
      await this.#cleanups.get(name)
      if (signal.aborted) return null
      const shared = await this.#pool.use(req.ttlMs)
      let mine: QueuedKey
      try {
        mine = await this.#protocol.enqueue(name, shared.id, req.owner, this.#call())
      } catch (err) {
        if (leaseNotFound(err)) {
          this.#pool.unuse(shared)
          await this.#pool.revoke(shared, new Error(`etcd lease ${shared.id} is gone`))
          continue
        }
        // The put may have been applied: delete the key in the background.
        void this.#cleanUp(name, Buffer.from(waiterKey(name, shared.id)), undefined, shared)
        throw err
      }
      if (!mine.created) {
        // A key of this lease left over by a delete that never reached the server: start
        // afresh so that the fence moves on (S3).
        void this.#cleanUp(name, mine.key, mine.createRevision, shared)
        continue
      }
      const outcome = mine.owner
        ? ({ kind: 'granted' } as const)
        : req.waitMs <= 0
          ? ({ kind: 'timeout' } as const)
          : await this.#wait({
              protocol: this.#protocol,
              watch: this.#watch,
              name,
              mine,
              lease: shared,
              deadlineMs,
              signal,
              recheckMs: this.#options.recheckMs,
              call: () => this.#call(),
            })
      if (outcome.kind === 'granted') {
        const lease = await this.#grant(req, name, mine, shared, signal)
        if (lease !== undefined) return lease
        return null
      }
      const cleanup = this.#cleanUp(name, mine.key, mine.createRevision, shared)
      if (req.waitMs <= 0) await cleanup
      else await Promise.race([cleanup, new Promise((r) => setTimeout(r, CLEANUP_WAIT_MS).unref())])
      if (outcome.kind === 'error') throw outcome.error
      if (outcome.kind !== 'restart' || performance.now() >= deadlineMs) return null
    }
  }

  async renew(lease: DriverLease, ttlMs: number): Promise<RenewResult> {
    const [result] = await this.renewMany([lease], ttlMs)
    return result ?? { ok: false }
  }

  /**
   * One keepalive per shared lease (sent after this call started) and one read of every
   * key, in parallel. A lease asked for another TTL is first moved onto that TTL's lease.
   */
  async renewMany(leases: readonly DriverLease[], ttlMs: number): Promise<RenewResult[]> {
    this.#lifecycle.assertOpen()
    const startMs = performance.now()
    const seconds = Math.max(1, Math.ceil(ttlMs / 1000))
    const entries = leases.map((lease) => this.#book.get(lease))
    await Promise.all(
      entries.map(async (entry) => {
        if (entry === undefined || entry.data.shared.requestedSeconds === seconds) return
        const target = await this.#pool.use(ttlMs)
        const held = entry.data
        const moved = await this.#protocol
          .moveToLease(held.key, held.createRevision, target.id, this.#call())
          .catch((err: unknown) => {
            this.#pool.unuse(target)
            throw err
          })
        if (!moved) {
          this.#pool.unuse(target)
          return
        }
        this.#pool.unuse(held.shared)
        held.shared = target
      }),
    )
    const live = entries.filter((e) => e !== undefined)
    const shared = [...new Set(live.map((e) => e.data.shared))]
    const [confirmed, owned] = await Promise.all([
      Promise.all(shared.map((s) => this.#pool.confirmAfter(s, startMs))),
      this.#protocol.stillOwned(
        live.map(({ data }) => ({ ...data, leaseId: data.shared.id })),
        this.#call(),
      ),
    ])
    const confirmedBy = new Map(shared.map((s, i) => [s, confirmed[i] !== undefined]))
    let next = 0
    return leases.map((lease, i): RenewResult => {
      const entry = entries[i]
      if (entry === undefined) return { ok: false }
      const stillOwned = owned[next++] === true
      if (!stillOwned || entry.data.shared.dead.aborted) {
        const reason = new Error(`etcd: the key of "${lease.key}" is gone or has another lease`)
        if (this.#book.lose(lease, reason)) this.#pool.unuse(entry.data.shared)
        return { ok: false }
      }
      if (confirmedBy.get(entry.data.shared) !== true) {
        throw new Error(`etcd: keepalive of lease ${entry.data.shared.id} not confirmed`)
      }
      return { ok: true, ttlMs: entry.data.shared.ttlMs }
    })
  }

  async release(lease: DriverLease): Promise<boolean> {
    const entry = this.#book.forget(lease)
    if (entry === undefined) return false
    const { key, createRevision, shared } = entry.data
    try {
      return await this.#protocol.deleteOwn(key, createRevision, this.#call())
    } catch (err) {
      // The key must not outlive the release on a lease this driver keeps alive: retry in
      // the background (revoking the lease if that fails too).
      void this.#cleanUp(this.lockName(lease.key), key, createRevision, shared, true)
      throw err
    } finally {
      this.#pool.unuse(shared)
    }
  }

  async inspect(key: string): Promise<LockInfo | null> {
    this.#lifecycle.assertOpen()
    const holder = await this.#protocol.holder(this.lockName(key), this.#call())
    if (holder === undefined) return null
    const ttlSeconds =
      holder.lease === '0' ? -1 : await this.#protocol.leaseTtlSeconds(holder.lease, this.#call())
    const owner = holder.value.toString()
    return {
      held: true,
      fence: BigInt(holder.create_revision),
      ...(ttlSeconds >= 0 ? { ttlRemainingMs: ttlSeconds * 1000 } : {}),
      ...(owner !== '' ? { owner } : {}),
    }
  }

  async list(prefix: string): Promise<Array<LockInfo & { readonly key: string }>> {
    this.#lifecycle.assertOpen()
    const kvs = await this.#protocol.keysUnder(this.lockName(prefix), this.#call())
    const holders = new Map<string, LockInfo & { readonly key: string }>()
    for (const kv of kvs) {
      const name = lockNameOfKey(kv.key.toString())
      const key = name === undefined ? undefined : batonKeyOf(name, this.#options.prefix)
      if (key === undefined || holders.has(key)) continue
      holders.set(key, { key, held: true, fence: BigInt(kv.create_revision) })
    }
    return [...holders.values()]
  }

  async forceRelease(key: string): Promise<boolean> {
    this.#lifecycle.assertOpen()
    const holder = await this.#protocol.holder(this.lockName(key), this.#call())
    if (holder === undefined) return false
    return this.#protocol.deleteOwn(holder.key, holder.create_revision, this.#call())
  }

  /** Revokes every lease (every key of the driver, held or waiting, goes with it) and closes what it owns. */
  close(): Promise<void> {
    return this.#lifecycle.close(async () => {
      this.#book.drain()
      await this.#watch.close()
      await this.#pool.close()
      this.#keepAlive.close()
      if (this.#options.ownsClient) this.#client.close()
    })
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  async #wait(wait: Parameters<typeof waitInQueue>[0]): ReturnType<typeof waitInQueue> {
    this.#pool.startWaiting(wait.lease)
    try {
      return await waitInQueue(wait)
    } finally {
      this.#pool.stopWaiting(wait.lease)
    }
  }

  async #grant(
    req: AcquireRequest,
    name: string,
    mine: QueuedKey,
    shared: SharedLease,
    signal: AbortSignal,
  ): Promise<DriverLease | undefined> {
    // Validity is counted from the lease's last confirmed keepalive: refresh a stale one.
    if (shared.leftMs() < shared.ttlMs / 2) await this.#pool.keepAlive(shared)
    if (signal.aborted || shared.dead.aborted || shared.leftMs() <= 0) {
      // A grant nobody can use any more: give it back (S4).
      void this.#cleanUp(name, mine.key, mine.createRevision, shared)
      return undefined
    }
    const grant = {
      fence: BigInt(mine.createRevision),
      ttlMs: shared.ttlMs,
      sentAtMs: shared.confirmedAtMs,
    }
    return this.#book.grant(req, grant, {
      key: mine.key,
      createRevision: mine.createRevision,
      shared,
    })
  }

  /**
   * Deletes an abandoned key of this driver in the background (tracked; the next acquire of
   * the same name waits for it), retrying a few times; if it cannot, the lease is revoked so
   * that no phantom waiter or holder outlives its acquire (S4). Releases the lease use.
   * Never rejects.
   */
  #cleanUp(
    name: string,
    key: Buffer,
    createRevision: string | undefined,
    shared: SharedLease,
    released = false,
  ): Promise<void> {
    const previous = this.#cleanups.get(name)
    const work = (async () => {
      await previous
      try {
        for (let attempt = 0; attempt < 3; attempt++) {
          if (shared.dead.aborted) return
          try {
            if (createRevision === undefined) {
              await this.#client.kv.deleteRange({ key }, this.#call())
            } else {
              await this.#protocol.deleteOwn(key, createRevision, this.#call())
            }
            return
          } catch {
            await new Promise((r) => setTimeout(r, 100 * (attempt + 1)).unref())
          }
        }
        await this.#pool.revoke(shared, new Error(`etcd: could not delete ${key.toString()}`))
      } finally {
        if (!released) this.#pool.unuse(shared)
      }
    })()
    const tracked = work
      .catch(() => {})
      .finally(() => {
        if (this.#cleanups.get(name) === tracked) this.#cleanups.delete(name)
      })
    this.#cleanups.set(name, tracked)
    this.#lifecycle.track(tracked)
    return tracked
  }

  #call(): { deadline: number } {
    // gRPC deadlines are wall-clock dates; validity decisions never use them.
    return { deadline: Date.now() + this.#options.operationTimeoutMs }
  }
}
