import {
  CompareResult,
  CompareTarget,
  type Etcd3,
  type IKeyValue,
  SortOrder,
  SortTarget,
} from 'etcd3'
import { lockPrefix, permitKey } from './etcd-key.js'
import { type KeyRange, prefixRange } from './key-range.js'
import type { QueuedKey } from './mutex-protocol.js'

/** A permit key after `enqueue`: as a lock's queued key, plus the limit the oldest key declares. */
export interface QueuedPermit extends QueuedKey {
  /** The limit the oldest permit key of the semaphore declares (undefined: it is one's own or unreadable). */
  readonly heldLimit: number | undefined
}

/** One read of a permit's place: how many keys are older, the next older one, one's own key. */
export interface PermitWindow {
  /** Whether one's own key still exists with its create revision. */
  readonly mine: boolean
  /** Keys with a lower create revision than one's own, counted up to `limit + 1`. */
  readonly older: number
  /** The key with the largest create revision below one's own. */
  readonly previous: IKeyValue | undefined
  /** Store revision of the read. */
  readonly revision: string
}

/** The value of a permit key: its owner and the limit it was acquired with (JSON). */
export function permitValue(owner: string, limit: number): Buffer {
  return Buffer.from(JSON.stringify({ owner, limit }))
}

/** The owner and limit of a permit key's value; undefined fields when it is not one. */
export function parsePermitValue(value: Buffer): { owner?: string; limit?: number } {
  try {
    const parsed: unknown = JSON.parse(value.toString())
    if (parsed === null || typeof parsed !== 'object') return {}
    const { owner, limit } = parsed as { owner?: unknown; limit?: unknown }
    return {
      ...(typeof owner === 'string' ? { owner } : {}),
      ...(typeof limit === 'number' && Number.isInteger(limit) && limit > 0 ? { limit } : {}),
    }
  } catch {
    return {}
  }
}

/**
 * The etcd operations of a counting semaphore `SEM/` (see `semaphoreName`): every holder
 * and waiter is a key `SEM/<owner id>` on the driver's lease; a key holds a permit while
 * fewer than `limit` keys of the semaphore have a lower create revision (arrival order).
 */
export class SemaphoreProtocol {
  readonly #client: Etcd3

  constructor(client: Etcd3) {
    this.#client = client
  }

  /** The range of every permit key of semaphore `semName`. */
  range(semName: string): KeyRange {
    return prefixRange(lockPrefix(semName))
  }

  /** The permit key of `owner` in semaphore `semName`. */
  key(semName: string, owner: string): Buffer {
    return Buffer.from(permitKey(semName, owner))
  }

  /**
   * One txn puts the permit key with the lease if absent and, in the same round trip,
   * counts the semaphore's keys (one's own included: every other one is older) and reads
   * the oldest one's value (its limit).
   */
  async enqueue(
    range: KeyRange,
    key: Buffer,
    value: Buffer,
    leaseId: string,
    limit: number,
    options: { deadline: number },
  ): Promise<QueuedPermit> {
    const reads = [
      {
        request_range: {
          ...range,
          sort_target: SortTarget.Create,
          sort_order: SortOrder.Ascend,
          limit: 1,
        },
      },
      { request_range: { ...range, count_only: true } },
    ]
    const res = await this.#client.kv.txn(
      {
        compare: [
          { key, target: CompareTarget.Create, result: CompareResult.Equal, create_revision: 0 },
        ],
        success: [{ request_put: { key, value, lease: leaseId } }, ...reads],
        failure: [{ request_range: { key } }, ...reads],
      },
      options,
    )
    const createRevision = res.succeeded
      ? res.header.revision
      : (res.responses[0]?.response_range.kvs[0]?.create_revision ?? '0')
    const oldest = res.responses[1]?.response_range.kvs[0]
    const count = Number(res.responses[2]?.response_range.count ?? '0')
    const heldLimit =
      oldest === undefined || oldest.create_revision === createRevision
        ? undefined
        : parsePermitValue(oldest.value).limit
    return {
      key,
      createRevision,
      owner: res.succeeded && count <= limit,
      created: res.succeeded,
      blockers: [range],
      heldLimit,
    }
  }

  /**
   * The permit's place in the queue, in one read: the `limit` next older keys, newest
   * first. (etcd's `count` ignores revision filters, so older keys are read, not counted;
   * the server scans the range either way, as for Go's `waitDeletes`.)
   */
  async window(
    mine: QueuedKey,
    limit: number,
    options: { deadline: number },
  ): Promise<PermitWindow> {
    const res = await this.#client.kv.txn(
      {
        success: [
          { request_range: { key: mine.key, keys_only: true } },
          { request_range: this.#older(mine, limit) },
        ],
      },
      options,
    )
    const own = res.responses[0]?.response_range.kvs[0]
    const older = res.responses[1]?.response_range
    const count = older?.kvs.length ?? 0
    return {
      mine: own !== undefined && own.create_revision === mine.createRevision,
      older: older?.more === true ? count + 1 : count,
      previous: older?.kvs[0],
      revision: res.header.revision,
    }
  }

  /** Whether at least `limit` keys are older than `mine`. */
  async olderAtLeast(mine: QueuedKey, limit: number, options: { deadline: number }) {
    const res = await this.#client.kv.range(this.#older(mine, limit), options)
    return res.kvs.length >= limit
  }

  #older(mine: QueuedKey, limit: number) {
    return {
      ...(mine.blockers[0] as KeyRange),
      max_create_revision: (BigInt(mine.createRevision) - 1n).toString(),
      sort_target: SortTarget.Create,
      sort_order: SortOrder.Descend,
      limit,
      keys_only: true,
    }
  }

  /** Whether `kv` still exists unmodified (same create and mod revision). */
  async unchanged(kv: IKeyValue, options: { deadline: number }): Promise<boolean> {
    const res = await this.#client.kv.range({ key: kv.key, keys_only: true }, options)
    const now = res.kvs[0]
    return now?.create_revision === kv.create_revision && now.mod_revision === kv.mod_revision
  }

  /**
   * Marks an admitted waiter's key as granted: a put (value and lease kept) if the key
   * still has its create revision. Its revision is the permit's fence, so fences increase
   * in grant order, and the put wakes the waiter behind (which watches this key's puts).
   * Undefined when the key is gone.
   */
  async markGranted(mine: QueuedKey, options: { deadline: number }): Promise<string | undefined> {
    const res = await this.#client.kv.txn(
      {
        compare: [
          {
            key: mine.key,
            target: CompareTarget.Create,
            result: CompareResult.Equal,
            create_revision: mine.createRevision,
          },
        ],
        success: [{ request_put: { key: mine.key, ignore_value: true, ignore_lease: true } }],
      },
      options,
    )
    return res.succeeded ? res.header.revision : undefined
  }

  /** The oldest permit key (its value) and the number of keys of semaphore range `range`. */
  async state(
    range: KeyRange,
    options: { deadline: number },
  ): Promise<{ readonly oldest: IKeyValue | undefined; readonly count: number }> {
    const res = await this.#client.kv.txn(
      {
        success: [
          {
            request_range: {
              ...range,
              sort_target: SortTarget.Create,
              sort_order: SortOrder.Ascend,
              limit: 1,
            },
          },
          { request_range: { ...range, count_only: true } },
        ],
      },
      options,
    )
    return {
      oldest: res.responses[0]?.response_range.kvs[0],
      count: Number(res.responses[1]?.response_range.count ?? '0'),
    }
  }
}
