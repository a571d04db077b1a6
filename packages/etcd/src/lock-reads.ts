import { type Etcd3, type IKeyValue, SortOrder, SortTarget } from 'etcd3'
import { readPrefix } from './etcd-key.js'
import { type KeyRange, prefixRange } from './key-range.js'

/** The reads of locks whoever holds them (inspect, list, force release): no writes. */
export class LockReads {
  readonly #client: Etcd3

  constructor(client: Etcd3) {
    this.#client = client
  }

  /** The range of lock `name`'s readers (`NAME/read/`). */
  readerRange(name: string): KeyRange {
    return prefixRange(readPrefix(name))
  }

  /** The first-created key (with its value) of each range, in one read. */
  async firsts(
    ranges: readonly KeyRange[],
    options: { deadline: number },
  ): Promise<Array<IKeyValue | undefined>> {
    const res = await this.#client.kv.txn(
      {
        success: ranges.map((range) => ({
          request_range: {
            ...range,
            sort_target: SortTarget.Create,
            sort_order: SortOrder.Ascend,
            limit: 1,
          },
        })),
      },
      options,
    )
    return ranges.map((_, i) => res.responses[i]?.response_range.kvs[0])
  }

  /** Keys of `range` created before `beforeRevision` (all when undefined), in create order. */
  async keysIn(
    range: KeyRange,
    beforeRevision: string | undefined,
    options: { deadline: number },
  ): Promise<IKeyValue[]> {
    const res = await this.#client.kv.range(
      {
        ...range,
        ...(beforeRevision === undefined
          ? {}
          : { max_create_revision: (BigInt(beforeRevision) - 1n).toString() }),
        sort_target: SortTarget.Create,
        sort_order: SortOrder.Ascend,
        keys_only: true,
      },
      options,
    )
    return res.kvs
  }

  /** Every key under `prefix` (keys and lease ids only), in create order. */
  async keysUnder(prefix: string, options: { deadline: number }): Promise<IKeyValue[]> {
    const res = await this.#client.kv.range(
      {
        ...prefixRange(prefix),
        sort_target: SortTarget.Create,
        sort_order: SortOrder.Ascend,
        keys_only: true,
      },
      options,
    )
    return res.kvs
  }

  /** Seconds left on lease `id` (-1: gone). */
  async leaseTtlSeconds(id: string, options: { deadline: number }): Promise<number> {
    const res = await this.#client.leaseClient.leaseTimeToLive({ ID: id }, options)
    return Number(res.TTL)
  }
}
