import {
  CompareResult,
  CompareTarget,
  type Etcd3,
  type IKeyValue,
  SortOrder,
  SortTarget,
} from 'etcd3'
import { lockPrefix, readPrefix, waiterKey } from './etcd-key.js'
import { cached, type KeyRange, prefixRange } from './key-range.js'

export { type KeyRange, prefixEnd, prefixRange } from './key-range.js'

/** A txn op reading the last-created keys of a range (shared between txns, never mutated). */
interface LastReads {
  readonly request_range: KeyRange & {
    readonly sort_target: SortTarget
    readonly sort_order: SortOrder
    readonly limit: number
    readonly keys_only: boolean
  }
}

/** Where a request queues: its key, value and lease, and the ranges whose older keys block it. */
export interface QueueSpot {
  readonly key: Buffer
  readonly value: Buffer
  readonly leaseId: string
  readonly blockers: readonly KeyRange[]
}

/** A waiter's key after `enqueue`: its name, create revision (the fence) and whether it owns the lock. */
export interface QueuedKey {
  readonly key: Buffer
  /** The ranges whose keys with a lower create revision block this one. */
  readonly blockers: readonly KeyRange[]
  readonly createRevision: string
  readonly owner: boolean
  /** False when the key already existed (left over from this lease). */
  readonly created: boolean
  /**
   * The key to wait for as the enqueue's own txn read it (a put that did not own the lock):
   * the waiter's first `predecessor` read, already done.
   */
  readonly ahead?: Predecessor | undefined
}

/** The next key to wait for: the one with the largest create revision below one's own. */
export interface Predecessor {
  readonly kv: IKeyValue | undefined
  /** Whether one's own key still exists with its create revision. */
  readonly mine: boolean
  /** Store revision of the read. */
  readonly revision: string
}

/**
 * The etcd operations of Go's `concurrency.Mutex`, node for node, through etcd3's KV API.
 * Every call takes the caller's call options (a deadline).
 */
export class MutexProtocol {
  readonly #client: Etcd3
  /** `NAME/` ranges and waiter keys of recent names: no Buffer or BigInt work per acquire. */
  readonly #ranges = new Map<string, { key: Buffer; range_end: Buffer }>()
  readonly #keys = new Map<string, Buffer>()
  readonly #readerBlockers = new Map<string, readonly KeyRange[]>()
  readonly #writerBlockers = new Map<string, readonly KeyRange[]>()
  /** Per blocker list: the txn ops reading the last-created keys of each range (built once). */
  readonly #lasts = new WeakMap<readonly KeyRange[], readonly LastReads[]>()

  constructor(client: Etcd3) {
    this.#client = client
  }

  /** The range of every key of lock `name` (`NAME/`). */
  #lockRange(name: string): { key: Buffer; range_end: Buffer } {
    return cached(this.#ranges, name, (n) => prefixRange(lockPrefix(n)))
  }

  /** `NAME/<lease hex>`: the key lease `leaseId` puts for lock `name`. */
  waiterKey(name: string, leaseId: string): Buffer {
    return cached(this.#keys, `${leaseId}\u0000${name}`, () =>
      Buffer.from(waiterKey(name, leaseId)),
    )
  }

  /**
   * The ranges whose keys block a request of lock `name`. Exclusive (Go's `Mutex` and
   * `RWMutex.Lock`): every key under `NAME/`, one's own included. Shared (`RWMutex.RLock`):
   * every key under `NAME/` but the readers under `NAME/read/`.
   */
  blockers(name: string, shared: boolean): readonly KeyRange[] {
    if (!shared) return cached(this.#writerBlockers, name, (n) => [this.#lockRange(n)])
    const all = this.#lockRange(name)
    return cached(this.#readerBlockers, name, (n) => {
      const reads = prefixRange(readPrefix(n))
      return [
        { key: all.key, range_end: reads.key },
        { key: reads.range_end, range_end: all.range_end },
      ]
    })
  }

  /**
   * `tryAcquire` and the first `waitDeletes` read in one round trip: one txn puts
   * `spot.key` with the lease if absent (create revision 0), else reads it, and reads the
   * two last-created keys of each blocking range. The spot owns the lock when no blocking
   * key but its own is there (Go reads the first-created key instead: the same decision).
   * After a put, its key is the newest of all, so the newest other key is the one to wait
   * for: `ahead` saves the waiter its first read.
   */
  async enqueue(spot: QueueSpot, options: { deadline: number }): Promise<QueuedKey> {
    const { key, blockers } = spot
    let lasts = this.#lasts.get(blockers)
    if (lasts === undefined) {
      lasts = blockers.map((range) => ({
        request_range: {
          ...range,
          sort_target: SortTarget.Create,
          sort_order: SortOrder.Descend,
          // One's own key may be in the range (exclusive): the one before it is the second.
          limit: 2,
          keys_only: true,
        },
      }))
      this.#lasts.set(blockers, lasts)
    }
    const res = await this.#client.kv.txn(
      {
        compare: [
          {
            key,
            target: CompareTarget.Create,
            result: CompareResult.Equal,
            create_revision: 0,
          },
        ],
        success: [{ request_put: { key, value: spot.value, lease: spot.leaseId } }, ...lasts],
        failure: [{ request_range: { key } }, ...lasts],
      },
      options,
    )
    const createRevision = res.succeeded
      ? res.header.revision
      : (res.responses[0]?.response_range.kvs[0]?.create_revision ?? '0')
    // Per range, the newest key that is not one's own (every key has another create revision).
    let newest: IKeyValue | undefined
    let owner = true
    for (let i = 1; i <= blockers.length; i++) {
      const kvs = res.responses[i]?.response_range.kvs ?? []
      const other = kvs[0]?.create_revision === createRevision ? kvs[1] : kvs[0]
      if (other === undefined) continue
      owner = false
      if (newest === undefined || BigInt(other.create_revision) > BigInt(newest.create_revision)) {
        newest = other
      }
    }
    // Only a key put by this txn is newer than every other: a key that existed may not be.
    const ahead =
      res.succeeded && !owner
        ? { kv: newest, mine: true, revision: res.header.revision }
        : undefined
    return { key, createRevision, owner, created: res.succeeded, blockers, ahead }
  }

  /**
   * `waitDeletes` step: the key with the largest create revision below one's own in the
   * blocking ranges, and whether one's own key still exists, in one read.
   */
  async predecessor(mine: QueuedKey, options: { deadline: number }): Promise<Predecessor> {
    const below = (BigInt(mine.createRevision) - 1n).toString()
    const res = await this.#client.kv.txn(
      {
        success: [
          { request_range: { key: mine.key, keys_only: true } },
          ...mine.blockers.map((range) => ({
            request_range: {
              ...range,
              sort_target: SortTarget.Create,
              sort_order: SortOrder.Descend,
              max_create_revision: below,
              limit: 1,
              keys_only: true,
            },
          })),
        ],
      },
      options,
    )
    const own = res.responses[0]?.response_range.kvs[0]
    let last: IKeyValue | undefined
    for (const r of res.responses.slice(1)) {
      const kv = r.response_range.kvs[0]
      if (
        kv !== undefined &&
        (last === undefined || BigInt(kv.create_revision) > BigInt(last.create_revision))
      ) {
        last = kv
      }
    }
    return {
      kv: last,
      mine: own !== undefined && own.create_revision === mine.createRevision,
      revision: res.header.revision,
    }
  }

  /** Whether `key` still exists with `createRevision`. */
  async exists(key: Buffer, createRevision: string, options: { deadline: number }) {
    const res = await this.#client.kv.range({ key, keys_only: true }, options)
    return res.kvs[0]?.create_revision === createRevision
  }

  /** Deletes `key` if it still has `createRevision` (never another owner's key); true when deleted. */
  async deleteOwn(
    key: Buffer,
    createRevision: string,
    options: { deadline: number },
  ): Promise<boolean> {
    const res = await this.#client.kv.txn(
      {
        compare: [
          {
            key,
            target: CompareTarget.Create,
            result: CompareResult.Equal,
            create_revision: createRevision,
          },
        ],
        success: [{ request_delete_range: { key } }],
      },
      options,
    )
    return res.succeeded
  }

  /** For each key, whether it exists with its create revision and lease, in one read. */
  async stillOwned(
    keys: readonly {
      readonly key: Buffer
      readonly createRevision: string
      readonly leaseId: string
    }[],
    options: { deadline: number },
  ): Promise<boolean[]> {
    if (keys.length === 0) return []
    const res = await this.#client.kv.txn(
      { success: keys.map(({ key }) => ({ request_range: { key, keys_only: true } })) },
      options,
    )
    return keys.map(({ createRevision, leaseId }, i) => {
      const kv = res.responses[i]?.response_range.kvs[0]
      return kv !== undefined && kv.create_revision === createRevision && kv.lease === leaseId
    })
  }

  /**
   * Moves `key` onto another lease if it still has `createRevision` (extend with another
   * TTL): a put keeps the create revision, so the fence and the queue position stay.
   */
  async moveToLease(
    key: Buffer,
    createRevision: string,
    leaseId: string,
    options: { deadline: number },
  ): Promise<boolean> {
    const res = await this.#client.kv.txn(
      {
        compare: [
          {
            key,
            target: CompareTarget.Create,
            result: CompareResult.Equal,
            create_revision: createRevision,
          },
        ],
        success: [{ request_put: { key, lease: leaseId, ignore_value: true } }],
      },
      options,
    )
    return res.succeeded
  }
}
