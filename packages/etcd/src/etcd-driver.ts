import {
  type AcquireRequest,
  Backoff,
  type Capabilities,
  type DriverLease,
  DriverLifecycle,
  LeaseBook,
  LinkedAbort,
  type LockDriver,
  type LockInfo,
  LockLimitMismatchError,
  type LockMode,
  type RenewResult,
  sleep,
} from '@baton-lock/core/driver'
import { Etcd3 } from 'etcd3'
import { etcdCapabilities } from './etcd-capabilities.js'
import { etcdLockName } from './etcd-key.js'
import {
  type EtcdDriverOptions,
  type ResolvedEtcdOptions,
  resolveEtcdOptions,
} from './etcd-options.js'
import type { HeldKey } from './held-key.js'
import { KeepAliveStream } from './keepalive-stream.js'
import { KeyCleanup } from './key-cleanup.js'
import { LeasePool } from './lease-pool.js'
import { LockAdmin } from './lock-admin.js'
import { LockReads } from './lock-reads.js'
import { MutexProtocol, type QueuedKey } from './mutex-protocol.js'
import { renewHeldKeys } from './renew-held-keys.js'
import { type PlanDeps, type Queued, type RequestPlan, requestPlan } from './request-plan.js'
import { SemaphoreProtocol } from './semaphore-protocol.js'
import type { SharedLease } from './shared-lease.js'
import { WatchHub } from './watch-hub.js'

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
  readonly #admin: LockAdmin
  readonly #lifecycle = new DriverLifecycle('etcd')
  readonly #book = new LeaseBook<HeldKey>()
  readonly #cleanup: KeyCleanup
  readonly #planDeps: PlanDeps
  #ready: Promise<void> | undefined
  /** Set once `ready()` succeeded: an acquire then skips awaiting it. */
  #isReady = false

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
    this.#cleanup = new KeyCleanup({
      client: this.#client,
      protocol: this.#protocol,
      pool: this.#pool,
      lifecycle: this.#lifecycle,
      call: () => this.#call(),
    })
    this.#watch = new WatchHub(this.#client, `${this.#options.prefix}\u0000baton-watch-anchor`)
    this.#planDeps = {
      mutex: this.#protocol,
      semaphores: new SemaphoreProtocol(this.#client),
      watch: this.#watch,
      recheckMs: this.#options.recheckMs,
      call: () => this.#call(),
    }
    this.#admin = new LockAdmin(
      this.#protocol,
      new LockReads(this.#client),
      this.#planDeps.semaphores,
      this.#options.prefix,
      () => this.#call(),
    )
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
      .then(() => {
        this.#isReady = true
      })
      .catch((err: unknown) => {
        this.#ready = undefined
        throw err
      })
    return this.#ready
  }

  async acquire(req: AcquireRequest): Promise<DriverLease | null> {
    this.#lifecycle.assertOpen()
    // See `aborted` below: a first request that had to prove the cluster reads the caller's signal.
    let watchesCaller = !this.#isReady
    if (watchesCaller) await this.ready()
    const name = this.lockName(req.key)
    const lifecycle = this.#lifecycle.signal
    // Core makes `req.signal` only when a driver reads it. An acquire that goes straight to
    // its put (a live lease, no clean-up to wait for) reads only the driver's own close: an
    // abort that lands during that one request costs the put, whose grant core releases
    // (S4). Anything else awaited first (a lease grant or refresh, a clean-up, a wait, a
    // retry) makes every later check read the caller's signal too.
    const aborted = () => lifecycle.aborted || (watchesCaller && req.signal.aborted)
    // What ends a wait early: the caller's signal and the driver's close. Read only when a
    // wait or a retry needs them (an uncontended acquire never does); each wait follows
    // them with one listener apiece, removed when it ends (no `AbortSignal.any`, whose
    // bookkeeping on the long-lived close signal grows with every wait).
    let stops: readonly AbortSignal[] | undefined
    const waitStops = (): readonly AbortSignal[] => {
      watchesCaller = true
      stops ??= [req.signal, lifecycle]
      return stops
    }
    const deadlineMs = performance.now() + req.waitMs
    // Set once a wait lost its key or lease (a member down, an election): enqueueing again
    // is retried with backoff until the deadline instead of failing the whole wait.
    let requeue: Backoff | undefined
    const retryLater = async (err: unknown): Promise<void> => {
      const leftMs = deadlineMs - performance.now()
      if (requeue === undefined || leftMs <= 0 || aborted()) throw err
      const stopped = new LinkedAbort(...waitStops())
      try {
        await sleep(requeue.next(leftMs), stopped.signal)
      } finally {
        stopped.dispose()
      }
    }
    const plan = requestPlan(this.#planDeps, req, name)
    for (let pass = 0; ; pass++) {
      if (pass > 0) watchesCaller = true
      const cleanup = this.#cleanup.settled(plan.cleanupName)
      if (cleanup !== undefined) {
        watchesCaller = true
        await cleanup
      }
      if (aborted()) return null
      let shared = this.#pool.useLive(req.ttlMs)
      if (shared === undefined) {
        watchesCaller = true
        try {
          shared = await this.#pool.use(req.ttlMs)
        } catch (err) {
          await retryLater(err)
          continue
        }
      }
      if (aborted()) {
        // Given up while the lease was granted or refreshed: put no key that would then have
        // to be deleted again (and could hold the lock meanwhile, S4).
        this.#pool.unuse(shared)
        return null
      }
      let mine: Queued
      try {
        mine = await plan.enqueue(shared)
      } catch (err) {
        if (leaseNotFound(err)) {
          this.#pool.unuse(shared)
          await this.#pool.revoke(shared, new Error(`etcd lease ${shared.id} is gone`))
          continue
        }
        // The put may have been applied: delete the key in the background.
        void this.#cleanup.delete(plan.cleanupName, plan.key(shared.id), undefined, shared)
        await retryLater(err)
        continue
      }
      if (!mine.created) {
        // A key of this lease left over by a delete that never reached the server: start
        // afresh so that the fence moves on (S3).
        void this.#cleanup.delete(plan.cleanupName, mine.key, mine.createRevision, shared)
        continue
      }
      if (mine.heldLimit !== undefined && mine.heldLimit !== req.limit) {
        await this.#cleanup.delete(plan.cleanupName, mine.key, mine.createRevision, shared)
        throw new LockLimitMismatchError(req.key, req.limit ?? 1, mine.heldLimit)
      }
      if (!mine.owner) req.onContended?.()
      const outcome = mine.owner
        ? ({ kind: 'granted' } as const)
        : req.waitMs <= 0
          ? ({ kind: 'timeout' } as const)
          : await this.#wait(shared, () => plan.wait(mine, shared, deadlineMs, waitStops()))
      if (outcome.kind === 'granted') {
        const lease = await this.#grant(req, plan, mine, !mine.owner, shared, aborted)
        if (lease !== undefined) return lease
        if (lease === null) return null
        // The key went away before it was marked granted: queue again.
        requeue ??= new Backoff({ minMs: 50, maxMs: 1_000 })
        if (performance.now() >= deadlineMs) return null
        continue
      }
      const abandoned = this.#cleanup.delete(
        plan.cleanupName,
        mine.key,
        mine.createRevision,
        shared,
      )
      if (req.waitMs <= 0) await abandoned
      else
        await Promise.race([abandoned, new Promise((r) => setTimeout(r, CLEANUP_WAIT_MS).unref())])
      if (outcome.kind === 'error') throw outcome.error
      if (outcome.kind !== 'restart' || performance.now() >= deadlineMs) return null
      requeue ??= new Backoff({ minMs: 50, maxMs: 1_000 })
    }
  }

  async renew(lease: DriverLease, ttlMs: number): Promise<RenewResult> {
    const [result] = await this.renewMany([lease], ttlMs)
    return result ?? { ok: false }
  }

  /** One keepalive per shared lease and one read of every key (see `renewHeldKeys`). */
  async renewMany(leases: readonly DriverLease[], ttlMs: number): Promise<RenewResult[]> {
    this.#lifecycle.assertOpen()
    return renewHeldKeys(
      { book: this.#book, pool: this.#pool, protocol: this.#protocol, call: () => this.#call() },
      leases,
      ttlMs,
    )
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
      void this.#cleanup.delete(entry.data.cleanupName, key, createRevision, shared, false)
      throw err
    } finally {
      this.#pool.unuse(shared)
    }
  }

  /** The lock's holder(s) and mode, or with `'semaphore'` the semaphore of the same key. */
  async inspect(key: string, mode?: LockMode): Promise<LockInfo | null> {
    this.#lifecycle.assertOpen()
    if (mode === 'semaphore') return this.#admin.inspectSemaphore(this.lockName(key))
    return this.#admin.inspect(this.lockName(key))
  }

  async list(prefix: string): Promise<Array<LockInfo & { readonly key: string }>> {
    this.#lifecycle.assertOpen()
    return this.#admin.list(this.lockName(prefix))
  }

  async forceRelease(key: string): Promise<boolean> {
    this.#lifecycle.assertOpen()
    return this.#admin.forceRelease(this.lockName(key))
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

  async #wait<T>(lease: SharedLease, wait: () => Promise<T>): Promise<T> {
    this.#pool.startWaiting(lease)
    try {
      return await wait()
    } finally {
      this.#pool.stopWaiting(lease)
    }
  }

  /**
   * Turns a granted queue place into a lease. Undefined: the key is gone (queue again);
   * null: nobody can use the grant any more (given back, S4).
   */
  async #grant(
    req: AcquireRequest,
    plan: RequestPlan,
    mine: QueuedKey,
    waited: boolean,
    shared: SharedLease,
    aborted: () => boolean,
  ): Promise<DriverLease | null | undefined> {
    let fence: bigint | undefined
    try {
      const found = plan.fence(mine, waited)
      fence = typeof found === 'bigint' ? found : await found
    } catch (err) {
      void this.#cleanup.delete(plan.cleanupName, mine.key, mine.createRevision, shared)
      throw err
    }
    if (fence === undefined) {
      this.#pool.unuse(shared)
      return undefined
    }
    // Validity is counted from the lease's last confirmed keepalive: refresh a stale one,
    // unless the acquire was given up (then the key is deleted at once, S4).
    if (!aborted() && shared.leftMs() < shared.ttlMs / 2) await this.#pool.keepAlive(shared)
    if (aborted() || shared.dead.aborted || shared.leftMs() <= 0) {
      // A grant nobody can use any more: give it back (S4).
      void this.#cleanup.delete(plan.cleanupName, mine.key, mine.createRevision, shared)
      return null
    }
    const grant = { fence, ttlMs: shared.ttlMs, sentAtMs: shared.confirmedAtMs }
    return this.#book.grant(req, grant, {
      key: mine.key,
      createRevision: mine.createRevision,
      cleanupName: plan.cleanupName,
      shared,
    })
  }

  #call(): { deadline: number } {
    // gRPC deadlines are wall-clock dates; validity decisions never use them.
    return { deadline: Date.now() + this.#options.operationTimeoutMs }
  }
}
