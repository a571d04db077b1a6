import type { LockInfo } from '@baton-lock/core/driver'
import type { IKeyValue } from 'etcd3'
import { batonKeyOf, lockNameOfKey, semaphoreName } from './etcd-key.js'
import type { LockReads } from './lock-reads.js'
import type { MutexProtocol } from './mutex-protocol.js'
import { parsePermitValue, type SemaphoreProtocol } from './semaphore-protocol.js'

/** A Baton owner id (32 lowercase hex characters): what a plain Baton lock key stores. */
const OWNER_ID = /^[0-9a-f]{32}$/

function older(a: IKeyValue | undefined, b: IKeyValue | undefined): IKeyValue | undefined {
  if (a === undefined) return b
  if (b === undefined) return a
  return BigInt(a.create_revision) <= BigInt(b.create_revision) ? a : b
}

/** What is holding lock `name`: one exclusive key, or the shared keys older than every other. */
type Holding =
  | { readonly mode: 'exclusive'; readonly holder: IKeyValue }
  | { readonly mode: 'shared'; readonly first: IKeyValue; readonly holders: IKeyValue[] }

/** Operations on locks whoever holds them (`baton status`, `ls`, `release --force`). */
export class LockAdmin {
  readonly #protocol: MutexProtocol
  readonly #reads: LockReads
  readonly #semaphores: SemaphoreProtocol
  readonly #prefix: string
  readonly #call: () => { deadline: number }

  constructor(
    protocol: MutexProtocol,
    reads: LockReads,
    semaphores: SemaphoreProtocol,
    prefix: string,
    call: () => { deadline: number },
  ) {
    this.#protocol = protocol
    this.#reads = reads
    this.#semaphores = semaphores
    this.#prefix = prefix
    this.#call = call
  }

  /**
   * The holder of lock `name`: the oldest key under `NAME/` when it is not a reader
   * (exclusive: fence, TTL left, the stored value, the owner id if Baton holds it as a
   * plain lock); else every reader older than the oldest other key (shared: their count,
   * the first one's fence, TTL and owner).
   */
  async inspect(name: string): Promise<LockInfo | null> {
    const holding = await this.#holding(name)
    if (holding === undefined) return null
    if (holding.mode === 'shared') {
      const { first, holders } = holding
      return {
        held: true,
        mode: 'shared',
        holders: holders.length,
        fence: BigInt(first.create_revision),
        ...(await this.#ttl(first)),
        ...(first.value.length > 0 ? { owner: first.value.toString() } : {}),
      }
    }
    const { holder } = holding
    // One string per key: a plain lock's owner id, an election candidate's value
    // (Go's Election and `etcdctl elect` read it), or empty (`etcdctl lock`).
    const value = holder.value.toString()
    return {
      held: true,
      mode: 'exclusive',
      holders: 1,
      fence: BigInt(holder.create_revision),
      ...(await this.#ttl(holder)),
      ...(OWNER_ID.test(value) ? { owner: value } : {}),
      ...(value !== '' ? { value } : {}),
    }
  }

  /** Semaphore `name`'s holders (at most its limit), the limit its oldest key declares, its owner. */
  async inspectSemaphore(name: string): Promise<LockInfo | null> {
    const range = this.#semaphores.range(semaphoreName(name))
    const { oldest, count } = await this.#semaphores.state(range, this.#call())
    if (oldest === undefined || count === 0) return null
    const { owner, limit } = parsePermitValue(oldest.value)
    return {
      held: true,
      mode: 'semaphore',
      holders: limit === undefined ? count : Math.min(count, limit),
      ...(limit === undefined ? {} : { limit }),
      ...(await this.#ttl(oldest)),
      ...(owner === undefined ? {} : { owner }),
    }
  }

  /** Holders of every Baton-mapped lock whose name starts with `namePrefix` (keys only). */
  async list(namePrefix: string): Promise<Array<LockInfo & { readonly key: string }>> {
    const kvs = await this.#reads.keysUnder(namePrefix, this.#call())
    const holders = new Map<string, LockInfo & { readonly key: string }>()
    for (const kv of kvs) {
      const parsed = lockNameOfKey(kv.key.toString())
      const key = parsed === undefined ? undefined : batonKeyOf(parsed.name, this.#prefix)
      // Sorted by create revision: the first key of a name is its (first) holder.
      if (key === undefined || parsed === undefined || holders.has(key)) continue
      const mode = parsed.shared ? 'shared' : 'exclusive'
      holders.set(key, { key, held: true, mode, fence: BigInt(kv.create_revision) })
    }
    return [...holders.values()]
  }

  /** Deletes the holders' keys of lock `name` (the exclusive one, or every shared one); their leases stay. */
  async forceRelease(name: string): Promise<boolean> {
    const holding = await this.#holding(name)
    if (holding === undefined) return false
    const keys = holding.mode === 'shared' ? holding.holders : [holding.holder]
    const deleted = await Promise.all(
      keys.map((kv) => this.#protocol.deleteOwn(kv.key, kv.create_revision, this.#call())),
    )
    return deleted.some(Boolean)
  }

  async #holding(name: string): Promise<Holding | undefined> {
    const readers = this.#reads.readerRange(name)
    const [before, after, firstReader] = await this.#reads.firsts(
      [...this.#protocol.blockers(name, true), readers],
      this.#call(),
    )
    const writer = older(before, after)
    if (writer === undefined && firstReader === undefined) return undefined
    if (firstReader === undefined || older(writer, firstReader) === writer) {
      if (writer !== undefined) return { mode: 'exclusive', holder: writer }
    }
    if (firstReader === undefined) return undefined
    const holders = await this.#reads.keysIn(readers, writer?.create_revision, this.#call())
    return { mode: 'shared', first: firstReader, holders }
  }

  async #ttl(kv: IKeyValue): Promise<{ ttlRemainingMs?: number }> {
    if (kv.lease === '0') return {}
    const seconds = await this.#reads.leaseTtlSeconds(kv.lease, this.#call())
    return seconds >= 0 ? { ttlRemainingMs: seconds * 1000 } : {}
  }
}
