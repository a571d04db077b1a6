import type {
  AcquireRequest,
  DriverLease,
  LockDriver,
  LockInfo,
  RenewResult,
} from '@baton-lock/core/driver'
import { ABORTED, DriverLifecycle, LeaseBook, untilAborted } from '@baton-lock/core/driver'
import {
  awaitPredecessor,
  createLockNode,
  deleteLockNode,
  type LockNode,
  lookAtQueue,
  sortedLockNodes,
} from './curator-lock.js'
import { LinkedAbort } from './linked-abort.js'
import { SessionPool } from './session-pool.js'
import { longOf, ZK, zkErrorCode } from './zk-client.js'
import type { ZkSession } from './zk-session.js'
import { zookeeperCapabilities } from './zookeeper-capabilities.js'
import { keyOfNodeName, lockPath } from './zookeeper-key.js'
import {
  type ResolvedZookeeperOptions,
  resolveZookeeperOptions,
  type ZookeeperDriverOptions,
} from './zookeeper-options.js'

/** The longest delay setTimeout takes (2^31 - 1 ms); a longer one fires at once. */
const MAX_TIMER_MS = 2_147_483_647

/** What the book keeps per lease: the session whose ephemeral node holds it, and that node. */
interface HeldNode {
  readonly session: ZkSession
  readonly node: LockNode
}

/**
 * Apache Curator's `InterProcessMutex` recipe on sessions the driver owns, node for node,
 * so Java services using Curator and Baton exclude each other. Uncontended acquire is
 * create + getChildren, release one delete; a waiter watches only its predecessor and is
 * granted in arrival order; the fence is the node's czxid.
 */
export class ZookeeperDriver implements LockDriver {
  readonly name = 'zookeeper'
  readonly capabilities
  readonly #options: ResolvedZookeeperOptions
  readonly #lifecycle = new DriverLifecycle('zookeeper')
  readonly #book = new LeaseBook<HeldNode>()
  readonly #pool: SessionPool

  constructor(options: ZookeeperDriverOptions) {
    this.#options = resolveZookeeperOptions(options)
    this.capabilities = zookeeperCapabilities(this.#options.minSessionTimeoutMs)
    // each acquire in flight follows the closing signal (LinkedAbort): many at once is normal
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
    const cancel = new LinkedAbort(req.signal, this.#lifecycle.signal)
    const signal = cancel.signal
    try {
      const deadlineMs = performance.now() + req.waitMs
      const session = await untilAborted(this.#pool.forTtl(req.ttlMs), signal)
      if (session === ABORTED) return null
      const work = this.#contend(session, req, deadlineMs, signal)
      const lease = await untilAborted(work, signal)
      if (lease !== ABORTED) return lease
      // the backend stopped answering: whatever the work still gets is given back (S4)
      this.#lifecycle.track(work.then((late) => (late === null ? false : this.release(late))))
      return null
    } finally {
      cancel.dispose()
    }
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

  async release(lease: DriverLease): Promise<boolean> {
    const entry = this.#book.forget(lease)
    if (entry === undefined) return false
    return deleteLockNode(entry.data.session, entry.data.node.path)
  }

  async inspect(key: string): Promise<LockInfo | null> {
    this.#lifecycle.assertOpen()
    const session = await this.#pool.control()
    const holder = await this.#holderOf(session, this.lockPathOf(key))
    if (holder === undefined) return null
    for (const { lease, data } of this.#book.entries()) {
      if (data.node.path === holder.path)
        return { held: true, fence: holder.czxid, owner: lease.owner }
    }
    return { held: true, fence: holder.czxid }
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
   * Deletes the holder's node. A Baton holder sees the loss at its next renewal; a Curator
   * holder does not watch its own node and goes on believing it holds the lock.
   */
  async forceRelease(key: string): Promise<boolean> {
    this.#lifecycle.assertOpen()
    const session = await this.#pool.control()
    const holder = await this.#holderOf(session, this.lockPathOf(key))
    if (holder === undefined) return false
    return session.remove(holder.path).then(
      () => true,
      (err: unknown) => {
        if (zkErrorCode(err) === ZK.NO_NODE) return false
        throw err
      },
    )
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

  /** Curator's lock loop: create our node, then look at the queue until ours is lowest, time runs out or abort. */
  async #contend(
    session: ZkSession,
    req: AcquireRequest,
    deadlineMs: number,
    signal: AbortSignal,
  ): Promise<DriverLease | null> {
    const path = this.lockPathOf(req.key)
    const node = await createLockNode(session, path)
    let wait: LinkedAbort | undefined
    let timer: NodeJS.Timeout | undefined
    try {
      for (;;) {
        const turn = await lookAtQueue(session, path, node)
        if (turn.granted) {
          const grant = {
            fence: node.czxid,
            ttlMs: Math.min(req.ttlMs, session.timeoutMs),
            sentAtMs: turn.sentAtMs,
          }
          return this.#book.grant(req, grant, { session, node })
        }
        req.onContended?.()
        const leftMs = deadlineMs - performance.now()
        if (!(leftMs > 0) || signal.aborted) break
        if (wait === undefined) {
          // made at the first wait only: an uncontended acquire pays for none of this
          const stop = new LinkedAbort(signal, session.ended)
          wait = stop
          // beyond setTimeout's range core's own deadline (waitMs) aborts `signal`
          if (leftMs <= MAX_TIMER_MS) timer = setTimeout(() => stop.abort(), leftMs)
        }
        if (!(await awaitPredecessor(session, turn.predecessor, wait.signal))) break
      }
    } catch (err) {
      this.#lifecycle.track(deleteLockNode(session, node.path))
      throw err
    } finally {
      clearTimeout(timer)
      wait?.dispose()
    }
    // timed out or aborted: as Curator does, delete our node before giving up (S4)
    await deleteLockNode(session, node.path)
    return null
  }

  async #holderOf(session: ZkSession, path: string): Promise<LockNode | undefined> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const [first] = sortedLockNodes(await session.getChildren(path).catch(orEmpty))
      if (first === undefined) return undefined
      const stat = await session.exists(`${path}/${first}`)
      if (stat !== null) return { path: `${path}/${first}`, name: first, czxid: longOf(stat.czxid) }
    }
    return undefined
  }
}

function orEmpty(err: unknown): string[] {
  if (zkErrorCode(err) === ZK.NO_NODE) return []
  throw err
}
