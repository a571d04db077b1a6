import type { LockInfo } from '@baton-lock/core'
import type { Cluster, Redis } from 'ioredis'
import { LockCommands, type OwnedLock } from './lock-commands.js'
import { defineScripts } from './scripts.js'
import { readServerFacts, type ServerFacts } from './server-facts.js'
import { slotOf } from './slot.js'

export { slotOf }

// Redis Cluster support kept out of the standalone command path: a lock's keys share one hash
// tag, so every single-lock script runs on one slot; only the calls that span locks (renewMany,
// the release of everything at close, list) are split here.

/** Groups `items` by the slot of `lockOf(item)`, keeping each item's index. */
export function groupBySlot<T>(
  items: readonly T[],
  lockOf: (item: T) => string,
): Map<number, Array<{ item: T; index: number }>> {
  const groups = new Map<number, Array<{ item: T; index: number }>>()
  items.forEach((item, index) => {
    const slot = slotOf(lockOf(item))
    const group = groups.get(slot)
    if (group === undefined) groups.set(slot, [{ item, index }])
    else group.push({ item, index })
  })
  return groups
}

/**
 * The commands that span locks, split for a cluster. Every per-slot call goes out at once:
 * ioredis writes the calls for one node back to back on that node's connection, so the
 * calls of a node are pipelined (one round trip per node, not per slot).
 */
export class ClusterCommands {
  readonly #cluster: Cluster
  readonly #commands: LockCommands

  constructor(cluster: Cluster, commands: LockCommands) {
    this.#cluster = cluster
    this.#commands = commands
  }

  /** Compare-and-PEXPIRE per slot; true per lock still owned, in order. Throws the first error. */
  async renewMany(locks: readonly OwnedLock[], ttlMs: number): Promise<boolean[]> {
    const out = new Array<boolean>(locks.length).fill(false)
    const groups = [...groupBySlot(locks, (l) => l.keys.fence).values()]
    await Promise.all(
      groups.map(async (group) => {
        const owned = await this.#commands.renewMany(
          group.map((g) => g.item),
          ttlMs,
        )
        group.forEach((g, i) => {
          out[g.index] = owned[i] === true
        })
      }),
    )
    return out
  }

  /** Releases every lock, per slot; errors are the caller's to ignore (the TTL frees the rest). */
  async releaseAll(locks: readonly OwnedLock[]): Promise<void> {
    const groups = [...groupBySlot(locks, (l) => l.keys.fence).values()]
    const results = await Promise.allSettled(
      groups.map((group) => this.#commands.releaseAll(group.map((g) => g.item))),
    )
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
    if (failed) throw failed.reason
  }

  /** SCAN on every master (a key lives on exactly one), then inspect there; sorted by key. */
  async list(
    prefix: string,
    keyPrefix: string,
  ): Promise<Array<LockInfo & { readonly key: string }>> {
    const masters = this.#cluster.nodes('master')
    const lists = await Promise.all(
      masters.map((node) => new LockCommands(defineScripts(node)).list(prefix, keyPrefix)),
    )
    return lists.flat().sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
  }
}

/** The lease facts the watch needs: its lock key and owner, and how to lose it. */
export interface WatchedLease {
  readonly lock: string
  readonly owner: string
  /** Set for a shared lease or a permit: the sorted set that must still list `owner`. */
  readonly holders?: string
  lose(reason: Error): void
}

/**
 * The cluster counterpart of `ServerWatch`: reads the facts from every master at connect
 * (AOF counts only if all masters have it), then after every slot-map refresh finds the held
 * leases whose slot moved to another node (failover or resharding) and checks them there: a
 * lease stays only while the new owner of the slot proves it still has the key with our
 * owner id (a migrated key does; a key an async replica never received does not).
 */
export class ClusterWatch {
  readonly #cluster: Cluster
  readonly #leases: () => Iterable<WatchedLease>
  /** Master node key ("host:port") per slot, as last seen. */
  #masters: Array<string | undefined> = []
  #checking: Promise<void> | undefined
  #again = false
  #stopped = false

  constructor(cluster: Cluster, leases: () => Iterable<WatchedLease>) {
    this.#cluster = cluster
    this.#leases = leases
  }

  async start(): Promise<ServerFacts> {
    const masters = this.#cluster.nodes('master')
    if (masters.length === 0) throw new Error('redis cluster: no master node is known')
    const facts = await Promise.all(masters.map((node: Redis) => readServerFacts(node)))
    const first = facts[0] as ServerFacts
    this.#masters = this.#snapshot()
    this.#cluster.off('refresh', this.#onRefresh)
    this.#cluster.on('refresh', this.#onRefresh)
    this.#cluster.off('+node', this.#onRefresh)
    this.#cluster.on('+node', this.#onRefresh)
    const policies = new Set(facts.map((f) => f.maxmemoryPolicy))
    return {
      runId: facts.every((f) => f.runId !== undefined) ? first.runId : undefined,
      version: first.version,
      aof: facts.every((f) => f.aof),
      maxmemoryPolicy:
        policies.size === 1
          ? first.maxmemoryPolicy
          : facts.find((f) => f.maxmemoryPolicy !== 'noeviction')?.maxmemoryPolicy,
      maxmemoryBytes: Math.max(...facts.map((f) => f.maxmemoryBytes ?? 0)),
    }
  }

  stop(): void {
    this.#stopped = true
    this.#cluster.off('refresh', this.#onRefresh)
    this.#cluster.off('+node', this.#onRefresh)
  }

  /** Resolves when the checks triggered so far are done (tests). */
  async settled(): Promise<void> {
    while (this.#checking !== undefined) await this.#checking
  }

  #snapshot(): Array<string | undefined> {
    return this.#cluster.slots.map((nodes) => nodes?.[0])
  }

  readonly #onRefresh = (): void => {
    if (this.#stopped) return
    if (this.#checking !== undefined) {
      this.#again = true
      return
    }
    this.#checking = this.#check()
      .catch(() => undefined)
      .finally(() => {
        this.#checking = undefined
        if (this.#again) {
          this.#again = false
          this.#onRefresh()
        }
      })
  }

  async #check(): Promise<void> {
    const before = this.#masters
    const now = this.#snapshot()
    this.#masters = now
    const moved = [...this.#leases()].filter((lease) => {
      const slot = slotOf(lease.lock)
      return before[slot] !== now[slot]
    })
    if (moved.length === 0) return
    const proofs = await Promise.allSettled(
      moved.map(async (lease) =>
        lease.holders === undefined
          ? (await this.#cluster.get(lease.lock)) === lease.owner
          : (await this.#cluster.zscore(lease.holders, lease.owner)) !== null,
      ),
    )
    proofs.forEach((proof, i) => {
      const lease = moved[i] as WatchedLease
      // A failed read proves nothing either way: the next renewal decides.
      if (proof.status === 'fulfilled' && !proof.value) {
        lease.lose(
          new Error(
            'redis cluster: the slot of this lock moved to another node (failover or resharding) and the key is not there with our owner id',
          ),
        )
      }
    })
  }
}
