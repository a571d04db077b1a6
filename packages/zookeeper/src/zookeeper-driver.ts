import type {
  AcquireRequest,
  DriverLease,
  LockDriver,
  LockInfo,
  LockMode,
  RenewResult,
} from '@baton-lock/core/driver'
import {
  ABORTED,
  DriverLifecycle,
  LeaseBook,
  LockLimitMismatchError,
} from '@baton-lock/core/driver'
import { AcquireRace } from './acquire-race.js'
import {
  createLockNode,
  deleteLockNode,
  isWriteNode,
  LEASE_NAME,
  LOCAL_ADDRESS,
  LOCK_NAME,
  type LockNode,
  lookAtQueue,
  READ_NAME,
  sortedBySequence,
  sortedLockNodes,
  WRITE_NAME,
} from './curator-lock.js'
import {
  declaredLimit,
  LEASES_CHILD,
  LOCKS_CHILD,
  leaseData,
  lookAtLeases,
} from './curator-semaphore.js'
import { QueueWait } from './queue-wait.js'
import { SessionPool } from './session-pool.js'
import { childrenOf, readData } from './session-reads.js'
import { longOf, ZK, zkErrorCode } from './zk-client.js'
import type { ZkSession } from './zk-session.js'
import { zookeeperCapabilities } from './zookeeper-capabilities.js'
import { keyOfNodeName, lockPath, semaphorePath } from './zookeeper-key.js'
import {
  type ResolvedZookeeperOptions,
  resolveZookeeperOptions,
  type ZookeeperDriverOptions,
} from './zookeeper-options.js'

/** What the book keeps per lease: the session whose ephemeral node holds it, and that node. */
interface HeldNode {
  readonly session: ZkSession
  readonly node: LockNode
}

/**
 * Apache Curator's lock recipes on sessions the driver owns, node for node, so Java
 * services using Curator and Baton exclude each other: `InterProcessMutex` for exclusive
 * locks and elections (the node's data is the candidate's value), the read nodes of
 * `InterProcessReadWriteLock` for shared locks in the same queue, `InterProcessSemaphoreV2`
 * for semaphores. Uncontended acquire is create + getChildren, release one delete; a
 * waiter watches one node and is granted in arrival order; the fence is the node's czxid.
 */
export class ZookeeperDriver implements LockDriver {
  readonly name = 'zookeeper'
  readonly capabilities
  readonly #options: ResolvedZookeeperOptions
  readonly #lifecycle = new DriverLifecycle('zookeeper')
  readonly #book = new LeaseBook<HeldNode>()
  readonly #pool: SessionPool
  readonly #race: AcquireRace
  /** The node stem of an exclusive acquire: Curator's mutex `lock-` or the read-write lock's `__WRIT__`. */
  readonly #writeStem: string

  constructor(options: ZookeeperDriverOptions) {
    this.#options = resolveZookeeperOptions(options)
    this.capabilities = zookeeperCapabilities(this.#options.minSessionTimeoutMs)
    this.#writeStem = this.#options.exclusiveRecipe === 'InterProcessMutex' ? LOCK_NAME : WRITE_NAME
    this.#race = new AcquireRace(this.#lifecycle.signal)
    // each acquire in flight listens to the closing signal: many at once is normal
    this.#pool = new SessionPool(this.#options, this.#lifecycle.signal, (session, reason) => {
      this.#book.loseWhere((entry) => entry.data.session === session, reason)
    })
  }

  /** A driver for `zk://host:port[,host:port...][/chroot][?root=/path]` (what `connect(url)` calls). */
  static fromUrl(url: string): ZookeeperDriver {
    return new ZookeeperDriver({ url })
  }

  /** The Curator lock path of a namespaced key under this driver's root (see `lockPath`). */
  lockPathOf(key: string): string {
    return lockPath(key, this.#options.rootPath)
  }

  /** The Curator `InterProcessSemaphoreV2` path of a namespaced semaphore key (see `semaphorePath`). */
  semaphorePathOf(key: string): string {
    return semaphorePath(key, this.#options.rootPath)
  }

  /** Sessions open right now. */
  get sessionCount(): number {
    return this.#pool.size
  }

  async ready(): Promise<void> {
    this.#lifecycle.assertOpen()
    const session = await this.#pool.control()
    await session.exists('/')
  }

  async acquire(req: AcquireRequest): Promise<DriverLease | null> {
    this.#lifecycle.assertOpen()
    const signal = req.signal
    const closing = this.#lifecycle.signal
    if (signal.aborted) return null
    const deadlineMs = performance.now() + req.waitMs
    // one chain raced against both signals (AcquireRace): no linked controller per
    // acquire (the wait links them only once it has to wait, QueueWait)
    const live = this.#pool.liveFor(req.ttlMs)
    const work =
      live !== undefined
        ? this.#contend(live, req, deadlineMs, signal, closing)
        : this.#pool
            .forTtl(req.ttlMs)
            .then((session) =>
              signal.aborted || closing.aborted
                ? null
                : this.#contend(session, req, deadlineMs, signal, closing),
            )
    const lease = await this.#race.race(work, signal)
    if (lease !== ABORTED) return lease
    // the backend stopped answering: whatever the work still gets is given back (S4)
    this.#lifecycle.track(work.then((late) => (late === null ? false : this.release(late))))
    return null
  }

  async renew(lease: DriverLease, ttlMs: number): Promise<RenewResult> {
    const entry = this.#book.get(lease)
    if (entry === undefined) return { ok: false }
    const { session, node } = entry.data
    if (session.ended.aborted) {
      this.#book.lose(lease, session.ended.reason)
      return { ok: false }
    }
    if (ttlMs > session.timeoutMs) await session.raiseTimeout(ttlMs, this.#options.connectTimeoutMs)
    const stat = await session.exists(node.path)
    if (
      stat === null ||
      longOf(stat.ephemeralOwner).toString(16).padStart(16, '0') !== session.id
    ) {
      this.#book.lose(lease, new Error(`the lock node ${node.path} was deleted`))
      return { ok: false }
    }
    return { ok: true, ttlMs: Math.min(ttlMs, session.timeoutMs) }
  }

  renewMany(leases: readonly DriverLease[], ttlMs: number): Promise<RenewResult[]> {
    // one exists per node, pipelined on each session's socket: one round trip in all
    return Promise.all(leases.map((lease) => this.renew(lease, ttlMs)))
  }

  release(lease: DriverLease): Promise<boolean> {
    const entry = this.#book.forget(lease)
    if (entry === undefined) return Promise.resolve(false)
    return deleteLockNode(entry.data.session, entry.data.node.path)
  }

  async inspect(key: string, mode?: LockMode): Promise<LockInfo | null> {
    this.#lifecycle.assertOpen()
    const session = await this.#pool.control()
    if (mode === 'semaphore') return this.#inspectSemaphore(session, key)
    const path = this.lockPathOf(key)
    const holders = await this.#holdersOf(session, path)
    const [first] = holders
    if (first === undefined) return null
    const owner = this.#ownerOf(first.path)
    if (!isWriteNode(first.name)) {
      const fence = first.czxid
      return { held: true, fence, mode: 'shared', holders: holders.length, ...owner }
    }
    // an election's leader: the node's data is its value (Curator LeaderSelector's id)
    const data = await readData(session, first.path)
    const value = data === undefined ? {} : { value: data.toString('utf8') }
    return { held: true, fence: first.czxid, mode: 'exclusive', holders: 1, ...owner, ...value }
  }

  async list(prefix: string): Promise<Array<LockInfo & { readonly key: string }>> {
    this.#lifecycle.assertOpen()
    const session = await this.#pool.control()
    const names = await session.getChildren(this.#options.rootPath).catch(orEmpty)
    const out: Array<LockInfo & { readonly key: string }> = []
    for (const name of names.sort()) {
      const key = keyOfNodeName(name)
      if (key === undefined || !key.startsWith(prefix)) continue
      const info = await this.inspect(key)
      if (info !== null) out.push({ key, ...info })
    }
    return out
  }

  /**
   * Deletes the holders' nodes (the exclusive holder's, or every shared holder's). A Baton
   * holder sees the loss at its next renewal; a Curator holder does not watch its own node
   * and goes on believing it holds the lock.
   */
  async forceRelease(key: string): Promise<boolean> {
    this.#lifecycle.assertOpen()
    const session = await this.#pool.control()
    const holders = await this.#holdersOf(session, this.lockPathOf(key))
    const removed = await Promise.all(
      holders.map((holder) =>
        session.remove(holder.path).then(
          () => true,
          (err: unknown) => {
            if (zkErrorCode(err) === ZK.NO_NODE) return false
            throw err
          },
        ),
      ),
    )
    return removed.includes(true)
  }

  close(): Promise<void> {
    return this.#lifecycle.close(async () => {
      const held = this.#book.drain()
      // closing a session the driver owns deletes its ephemeral nodes in the same request
      if (this.#options.client !== undefined) {
        await Promise.allSettled(held.map((e) => deleteLockNode(e.data.session, e.data.node.path)))
      }
      await this.#pool.close()
    })
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  /**
   * Curator's lock loop: create our node (exclusive `lock-` or `__WRIT__`, with the
   * request's value as data; shared `__READ__`), then look at the queue until our turn, time runs out or abort.
   */
  async #contend(
    session: ZkSession,
    req: AcquireRequest,
    deadlineMs: number,
    signal: AbortSignal,
    closing: AbortSignal,
  ): Promise<DriverLease | null> {
    if (req.mode === 'semaphore') {
      return this.#contendSemaphore(session, req, deadlineMs, signal, closing)
    }
    const path = this.lockPathOf(req.key)
    const shared = req.mode === 'shared'
    const data = req.value === undefined ? LOCAL_ADDRESS : Buffer.from(req.value, 'utf8')
    const stem = shared ? READ_NAME : this.#writeStem
    const node = await createLockNode(session, path, stem, data)
    const look = () => lookAtQueue(session, path, node, shared)
    // made only when the first look says wait: the uncontended acquire needs none
    let wait: QueueWait | undefined
    try {
      const first = await look()
      if (first.granted) return this.#grant(req, session, node, first.sentAtMs)
      wait = new QueueWait(session, deadlineMs, signal, closing, req.onContended)
      const sentAtMs = await wait.until(look, first)
      if (sentAtMs !== null) return this.#grant(req, session, node, sentAtMs)
    } catch (err) {
      this.#lifecycle.track(deleteLockNode(session, node.path))
      throw err
    } finally {
      wait?.dispose()
    }
    // timed out or aborted: as Curator does, delete our node before giving up (S4)
    await deleteLockNode(session, node.path)
    return null
  }

  /**
   * Curator's `InterProcessSemaphoreV2`: take the semaphore's mutex, create our lease, wait
   * on the leases' child watch until at most `limit` exist, release the mutex. The first
   * look reads the limit another Baton holder wrote into its lease.
   */
  async #contendSemaphore(
    session: ZkSession,
    req: AcquireRequest,
    deadlineMs: number,
    signal: AbortSignal,
    closing: AbortSignal,
  ): Promise<DriverLease | null> {
    const limit = req.limit ?? 1
    const path = this.semaphorePathOf(req.key)
    const [locksPath, leasesPath] = [`${path}/${LOCKS_CHILD}`, `${path}/${LEASES_CHILD}`]
    const gate = await createLockNode(session, locksPath, LOCK_NAME, LOCAL_ADDRESS)
    const wait = new QueueWait(session, deadlineMs, signal, closing, req.onContended)
    let lease: LockNode | undefined
    let granted: DriverLease | null = null
    let failed = false
    try {
      const entered = await wait.until(() => lookAtQueue(session, locksPath, gate, false))
      if (entered === null) return null
      const ours = await createLockNode(session, leasesPath, LEASE_NAME, leaseData(limit))
      lease = ours
      let checked = false
      const sentAtMs = await wait.until(async () => {
        const { turn, others } = await lookAtLeases(session, leasesPath, ours, limit)
        if (!checked) {
          checked = true
          const heldLimit = await declaredLimit(session, leasesPath, others)
          if (heldLimit !== undefined && heldLimit !== limit) {
            throw new LockLimitMismatchError(req.key, limit, heldLimit)
          }
        }
        return turn
      })
      if (sentAtMs !== null) granted = this.#grant(req, session, ours, sentAtMs)
      return granted
    } catch (err) {
      // a backend failure: the deletes run in the background, bounded by the session's end
      failed = !(err instanceof LockLimitMismatchError)
      throw err
    } finally {
      wait.dispose()
      // the mutex is only the way in (Curator releases it once the lease is decided); a
      // lease not granted is deleted too (S4)
      const left = granted === null && lease !== undefined ? [gate, lease] : [gate]
      const deleting = Promise.all(left.map((node) => deleteLockNode(session, node.path)))
      if (failed) this.#lifecycle.track(deleting)
      else await deleting
    }
  }

  #grant(req: AcquireRequest, session: ZkSession, node: LockNode, sentAtMs: number): DriverLease {
    const grant = { fence: node.czxid, ttlMs: Math.min(req.ttlMs, session.timeoutMs), sentAtMs }
    return this.#book.grant(req, grant, { session, node })
  }

  /** The owner id of the lease whose node is `path`, when this driver holds it. */
  #ownerOf(path: string): { owner?: string } {
    for (const { lease, data } of this.#book.entries()) {
      if (data.node.path === path) return { owner: lease.owner }
    }
    return {}
  }

  /**
   * The nodes that hold the lock at `path`: the first queue node if it is a write node,
   * else every read node before the first write node; each with its czxid.
   */
  async #holdersOf(session: ZkSession, path: string): Promise<LockNode[]> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const queue = sortedLockNodes(await childrenOf(session, path))
      const [first] = queue
      if (first === undefined) return []
      const writer = queue.findIndex(isWriteNode)
      const names = writer === 0 ? [first] : queue.slice(0, writer < 0 ? queue.length : writer)
      const stats = await Promise.all(names.map((name) => session.exists(`${path}/${name}`)))
      const holders: LockNode[] = []
      stats.forEach((stat, i) => {
        const name = names[i]
        if (stat !== null && name !== undefined) {
          holders.push({ path: `${path}/${name}`, name, czxid: longOf(stat.czxid) })
        }
      })
      // a node deleted between the list and the stat: look again
      if (holders.length === names.length) return holders
    }
    return []
  }

  /** The semaphore's leases (at most its limit count as holders: one more may be a waiter's). */
  async #inspectSemaphore(session: ZkSession, key: string): Promise<LockInfo | null> {
    const leasesPath = `${this.semaphorePathOf(key)}/${LEASES_CHILD}`
    const leases = sortedBySequence(await childrenOf(session, leasesPath))
    const [first] = leases
    if (first === undefined) return null
    const limit = await declaredLimit(session, leasesPath, leases)
    const stat = await session.exists(`${leasesPath}/${first}`)
    return {
      held: true,
      mode: 'semaphore',
      holders: limit === undefined ? leases.length : Math.min(leases.length, limit),
      ...(limit === undefined ? {} : { limit }),
      ...(stat === null ? {} : { fence: longOf(stat.czxid) }),
      ...this.#ownerOf(`${leasesPath}/${first}`),
    }
  }
}

function orEmpty(err: unknown): string[] {
  if (zkErrorCode(err) === ZK.NO_NODE) return []
  throw err
}
