/** How long a key counts as contended after a wait last found it taken. */
const MEMORY_MS = 1_000
/** Keys remembered at most; the oldest note goes first. */
const MAX_KEYS = 1_024

/**
 * The keys (a driver's own form of them) whose last wait in this driver found them taken,
 * for `MEMORY_MS`, at most `MAX_KEYS` of them. For a driver declaring
 * `capabilities.queuedWait` whose server-side wait tries first on the server and says
 * whether it waited (PostgreSQL, MySQL): a waiting acquire of such a key sends its wait at
 * once instead of a try first, so a handoff loop costs one statement per grant, as a
 * hand-written server-side wait does; any other key is tried first, so an uncontended
 * acquire costs what a try costs. Only a hint: a free key is granted either way.
 */
export class RecentContention<K = string> {
  /** Key -> monotonic ms of its last note, in note order (a Map keeps insertion order). */
  readonly #notedAt = new Map<K, number>()

  /** True when a wait found `key` taken within the last `MEMORY_MS`. */
  isRecent(key: K): boolean {
    const at = this.#notedAt.get(key)
    return at !== undefined && performance.now() - at < MEMORY_MS
  }

  /** A wait found `key` taken just now. */
  note(key: K): void {
    this.#notedAt.delete(key)
    this.#notedAt.set(key, performance.now())
    if (this.#notedAt.size > MAX_KEYS) {
      const oldest = this.#notedAt.keys().next()
      if (!oldest.done) this.#notedAt.delete(oldest.value)
    }
  }

  /** A wait found `key` free: try first again next time. */
  forget(key: K): void {
    this.#notedAt.delete(key)
  }
}
