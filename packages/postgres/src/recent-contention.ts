/** How long a key counts as contended after a wait last found it taken. */
const MEMORY_MS = 1_000
/** Keys remembered at most; the oldest note goes first. */
const MAX_KEYS = 1_024

/**
 * The advisory keys whose last wait (in this driver) found them taken, for `MEMORY_MS`. A
 * waiting acquire of such a key sends its wait at once instead of a try first: a handoff
 * loop then costs one statement per grant, as a hand-written `pg_advisory_lock` does.
 * Only a hint: the wait itself tries first on the server, so a free key is granted alike.
 */
export class RecentContention {
  /** Key -> monotonic ms of its last note, in note order (a Map keeps insertion order). */
  readonly #notedAt = new Map<bigint, number>()

  /** True when a wait found `key` taken within the last `MEMORY_MS`. */
  isRecent(key: bigint): boolean {
    const at = this.#notedAt.get(key)
    return at !== undefined && performance.now() - at < MEMORY_MS
  }

  /** A wait found `key` taken just now. */
  note(key: bigint): void {
    this.#notedAt.delete(key)
    this.#notedAt.set(key, performance.now())
    if (this.#notedAt.size > MAX_KEYS) {
      const oldest = this.#notedAt.keys().next()
      if (!oldest.done) this.#notedAt.delete(oldest.value)
    }
  }

  /** A wait found `key` free: try first again next time. */
  forget(key: bigint): void {
    this.#notedAt.delete(key)
  }
}
