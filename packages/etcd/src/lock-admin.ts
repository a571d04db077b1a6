import type { LockInfo } from '@baton-lock/core/driver'
import { batonKeyOf, lockNameOfKey } from './etcd-key.js'
import type { MutexProtocol } from './mutex-protocol.js'

/** Operations on locks whoever holds them (`baton status`, `ls`, `release --force`). */
export class LockAdmin {
  readonly #protocol: MutexProtocol
  readonly #prefix: string
  readonly #call: () => { deadline: number }

  constructor(protocol: MutexProtocol, prefix: string, call: () => { deadline: number }) {
    this.#protocol = protocol
    this.#prefix = prefix
    this.#call = call
  }

  /** The holder of lock `name`: fence, its lease's TTL left, and the owner id if Baton holds it. */
  async inspect(name: string): Promise<LockInfo | null> {
    const holder = await this.#protocol.holder(name, this.#call())
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

  /** Holders of every Baton-mapped lock whose name starts with `namePrefix` (keys only). */
  async list(namePrefix: string): Promise<Array<LockInfo & { readonly key: string }>> {
    const kvs = await this.#protocol.keysUnder(namePrefix, this.#call())
    const holders = new Map<string, LockInfo & { readonly key: string }>()
    for (const kv of kvs) {
      const name = lockNameOfKey(kv.key.toString())
      const key = name === undefined ? undefined : batonKeyOf(name, this.#prefix)
      // Sorted by create revision: the first key of a name is its holder.
      if (key === undefined || holders.has(key)) continue
      holders.set(key, { key, held: true, fence: BigInt(kv.create_revision) })
    }
    return [...holders.values()]
  }

  /** Deletes the holder's key of lock `name` (its lease and other keys stay). */
  async forceRelease(name: string): Promise<boolean> {
    const holder = await this.#protocol.holder(name, this.#call())
    if (holder === undefined) return false
    return this.#protocol.deleteOwn(holder.key, holder.create_revision, this.#call())
  }
}
