import { readFileSync, renameSync, writeFileSync } from 'node:fs'

/** What the counter file holds: the count and the fence of the write that set it. */
export interface CounterState {
  readonly count: number
  readonly fence: string
}

/**
 * The store the demo guards: a counter in a JSON file that remembers the fence of its
 * last write and rejects a write carrying a fence not above it. This is how a real
 * store should use Baton's fences: even a holder that lost its lock without noticing
 * (a long pause, a partition) cannot overwrite a newer holder's write.
 */
export class FencedCounter {
  readonly #path: string

  constructor(path: string) {
    this.#path = path
  }

  /** Creates (or resets) the file with count 0 and fence 0. */
  reset(): void {
    this.#write({ count: 0, fence: '0' })
  }

  /** The current state. */
  read(): CounterState {
    return JSON.parse(readFileSync(this.#path, 'utf8')) as CounterState
  }

  /** Writes `count` if `fence` is above the stored fence; false (nothing written) when stale. */
  write(count: number, fence: bigint): boolean {
    if (fence <= BigInt(this.read().fence)) return false
    this.#write({ count, fence: String(fence) })
    return true
  }

  // Write-then-rename: a reader sees the old or the new file, never half of one.
  #write(state: CounterState): void {
    const tmp = `${this.#path}.${process.pid}.tmp`
    writeFileSync(tmp, JSON.stringify(state))
    renameSync(tmp, this.#path)
  }
}
