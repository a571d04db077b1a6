import { setImmediate as nextTurn } from 'node:timers/promises'

/** A row of the table: who holds a key, with which fence, until when (monotonic ms). */
export interface LeaseRow {
  readonly owner: string
  readonly fence: bigint
  readonly expiresAtMs: number
}

/** Outcome of an insert: the fence granted, or how long the current holder has left. */
export type InsertResult =
  | { readonly granted: true; readonly fence: bigint }
  | { readonly granted: false; readonly ttlRemainingMs: number }

/**
 * Stands in for a third party's own lock service: a table of leases with a fence counter
 * per key. Every call is asynchronous, like a network round trip, and expired rows are
 * ignored (and purged) lazily, the way a TTL column behaves in a database.
 */
export class LeaseTable {
  readonly #rows = new Map<string, LeaseRow>()
  readonly #fences = new Map<string, bigint>()

  /** Inserts a lease for `owner` unless a live row exists. */
  async insert(key: string, owner: string, ttlMs: number): Promise<InsertResult> {
    await nextTurn()
    const row = this.#live(key)
    if (row !== undefined) {
      return { granted: false, ttlRemainingMs: Math.max(0, row.expiresAtMs - performance.now()) }
    }
    const fence = (this.#fences.get(key) ?? 0n) + 1n
    this.#fences.set(key, fence)
    this.#rows.set(key, { owner, fence, expiresAtMs: performance.now() + ttlMs })
    return { granted: true, fence }
  }

  /** Moves the expiry of `owner`'s live row to `ttlMs` from now; false when the row is not theirs. */
  async extend(key: string, owner: string, fence: bigint, ttlMs: number): Promise<boolean> {
    await nextTurn()
    const row = this.#live(key)
    if (row?.owner !== owner || row.fence !== fence) return false
    this.#rows.set(key, { ...row, expiresAtMs: performance.now() + ttlMs })
    return true
  }

  /** Deletes `owner`'s live row; false when the row is not theirs (compare-and-delete). */
  async remove(key: string, owner: string, fence: bigint): Promise<boolean> {
    await nextTurn()
    const row = this.#live(key)
    if (row?.owner !== owner || row.fence !== fence) return false
    this.#rows.delete(key)
    return true
  }

  /** The live row of `key`, if any. */
  async read(key: string): Promise<LeaseRow | undefined> {
    await nextTurn()
    return this.#live(key)
  }

  /** Deletes `owner`'s row whatever its state, as an operator or a failover would (test fault). */
  drop(key: string, owner: string): boolean {
    if (this.#rows.get(key)?.owner !== owner) return false
    return this.#rows.delete(key)
  }

  #live(key: string): LeaseRow | undefined {
    const row = this.#rows.get(key)
    if (row === undefined || row.expiresAtMs > performance.now()) return row
    this.#rows.delete(key)
    return undefined
  }
}
