import type { Clock, TimerHandle } from './clock.js'

/** Longest delay a Node timer takes (2^31 - 1 ms, about 24.8 days). */
const MAX_DELAY_MS = 2_147_483_647

/**
 * Something the queue calls at a monotonic time. The queue keeps its bookkeeping on the
 * entry itself (no wrapper per schedule): `dueIndex` is its place in the heap, -1 when
 * not scheduled.
 */
export interface DueEntry {
  /** When `onDue` runs, on the queue's clock; meaningful only while scheduled. */
  dueAtMs: number
  /** Heap position; -1 when not scheduled. Written by the queue only. */
  dueIndex: number
  /** Tie-break: entries due at the same time run in the order they were scheduled. */
  dueSeq: number
  onDue(): void
}

/**
 * The one clock timer of a Locker: a min-heap of due times (acquire deadlines, the
 * renewer's next wake-up) behind a single `clock.setTimeout` armed for the earliest.
 * Scheduling or cancelling an entry is a heap operation, not a timer: a cancelled entry
 * leaves the timer armed, which then fires once, finds nothing due and re-arms for the
 * next entry (or stays off). So an acquire+release cycle sets no timer of its own, while
 * every entry still runs at its due time, as if it had a timer of its own.
 */
export class TimerQueue {
  readonly #clock: Clock
  readonly #heap: DueEntry[] = []
  #timer: TimerHandle | undefined
  #armedAtMs = Number.POSITIVE_INFINITY
  #seq = 0

  constructor(clock: Clock) {
    this.#clock = clock
  }

  /** Entries scheduled (tests, H1). */
  get size(): number {
    return this.#heap.length
  }

  /** Runs `entry.onDue()` at `atMs` (replacing its earlier time, if scheduled). */
  schedule(entry: DueEntry, atMs: number): void {
    if (entry.dueIndex >= 0) this.#removeAt(entry.dueIndex)
    entry.dueAtMs = atMs
    entry.dueSeq = this.#seq++
    const heap = this.#heap
    entry.dueIndex = heap.length
    heap.push(entry)
    this.#up(entry.dueIndex)
    if (atMs < this.#armedAtMs) this.#arm(atMs)
  }

  /** Unschedules `entry`; nothing when it is not scheduled. */
  cancel(entry: DueEntry): void {
    if (entry.dueIndex >= 0) this.#removeAt(entry.dueIndex)
  }

  /** Clears the timer and forgets every entry. */
  stop(): void {
    for (const entry of this.#heap) entry.dueIndex = -1
    this.#heap.length = 0
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer)
    this.#timer = undefined
    this.#armedAtMs = Number.POSITIVE_INFINITY
  }

  #arm(atMs: number): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer)
    const nowMs = this.#clock.now()
    // Node runs a longer timer after 1 ms instead: a far deadline wakes up early, finds
    // nothing due and re-arms.
    const delayMs = Math.min(atMs - nowMs, MAX_DELAY_MS)
    this.#armedAtMs = delayMs < atMs - nowMs ? nowMs + delayMs : atMs
    this.#timer = this.#clock.setTimeout(() => this.#fire(), delayMs)
  }

  #fire(): void {
    // Everything due by the time this timer was armed for runs now, even if the clock reads
    // a fraction earlier (Node's timers run on the loop's millisecond clock): each entry
    // runs exactly when a timer of its own would have.
    const dueMs = Math.max(this.#armedAtMs, this.#clock.now())
    this.#timer = undefined
    this.#armedAtMs = Number.POSITIVE_INFINITY
    // Entries scheduled by an onDue below wait for the next timer: no loop can spin here.
    const lastSeq = this.#seq
    const heap = this.#heap
    for (;;) {
      const entry = heap[0]
      if (entry === undefined || entry.dueAtMs > dueMs || entry.dueSeq >= lastSeq) break
      this.#removeAt(0)
      try {
        entry.onDue()
      } catch (err) {
        // As a throwing timer callback would: reported, and the other entries still run.
        queueMicrotask(() => {
          throw err
        })
      }
    }
    const next = heap[0]
    if (next !== undefined && next.dueAtMs < this.#armedAtMs) this.#arm(next.dueAtMs)
  }

  #removeAt(index: number): void {
    const heap = this.#heap
    const entry = heap[index] as DueEntry
    entry.dueIndex = -1
    const last = heap.pop() as DueEntry
    if (index === heap.length) return
    heap[index] = last
    last.dueIndex = index
    this.#up(index)
    this.#down(last.dueIndex)
  }

  #up(index: number): void {
    const heap = this.#heap
    const entry = heap[index] as DueEntry
    while (index > 0) {
      const parentIndex = (index - 1) >> 1
      const parent = heap[parentIndex] as DueEntry
      if (!before(entry, parent)) break
      heap[index] = parent
      parent.dueIndex = index
      index = parentIndex
    }
    heap[index] = entry
    entry.dueIndex = index
  }

  #down(index: number): void {
    const heap = this.#heap
    const entry = heap[index] as DueEntry
    for (;;) {
      const left = 2 * index + 1
      if (left >= heap.length) break
      const right = left + 1
      const child =
        right < heap.length && before(heap[right] as DueEntry, heap[left] as DueEntry)
          ? right
          : left
      const childEntry = heap[child] as DueEntry
      if (!before(childEntry, entry)) break
      heap[index] = childEntry
      childEntry.dueIndex = index
      index = child
    }
    heap[index] = entry
    entry.dueIndex = index
  }
}

function before(a: DueEntry, b: DueEntry): boolean {
  return a.dueAtMs < b.dueAtMs || (a.dueAtMs === b.dueAtMs && a.dueSeq < b.dueSeq)
}
