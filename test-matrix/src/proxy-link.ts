import { randomInt } from 'node:crypto'
import type { Socket } from 'node:net'

/** How one direction of a connection behaves right now. */
export interface LinkFaults {
  /** Bytes wait here until released; nothing is lost. */
  held: boolean
  delayMs: number
  jitterMs: number
}

/**
 * One direction of a proxied connection (client->server or server->client). Chunks are
 * forwarded at once when the link is clean; with a delay each chunk is due at
 * `arrival + delay + jitter`, but never before the chunk ahead of it, so byte order holds.
 */
export class ProxyLink {
  readonly #from: Socket
  readonly #to: Socket
  readonly #faults: () => LinkFaults
  readonly #queue: { dueMs: number; chunk: Buffer }[] = []
  #lastDueMs = 0
  #timer: NodeJS.Timeout | undefined
  #ended = false
  /** When set, bytes from `from` are read and dropped (the other side is gone). */
  discard = false

  constructor(from: Socket, to: Socket, faults: () => LinkFaults) {
    this.#from = from
    this.#to = to
    this.#faults = faults
    from.on('data', (chunk: Buffer) => this.#onData(chunk))
    from.on('end', () => {
      this.#ended = true
      this.flush()
    })
  }

  /** Bytes received but not forwarded yet. */
  get pendingBytes(): number {
    return this.#queue.reduce((sum, item) => sum + item.chunk.length, 0)
  }

  #onData(chunk: Buffer): void {
    if (this.discard) return
    const faults = this.#faults()
    if (!faults.held && faults.delayMs === 0 && faults.jitterMs === 0 && this.#queue.length === 0) {
      this.#write(chunk)
      return
    }
    const jitterMs = faults.jitterMs > 0 ? randomInt(0, faults.jitterMs + 1) : 0
    const dueMs = Math.max(performance.now() + faults.delayMs + jitterMs, this.#lastDueMs)
    this.#lastDueMs = dueMs
    this.#queue.push({ dueMs, chunk })
    this.flush()
  }

  /** Forwards every chunk that is due; call again after the faults changed (e.g. on heal). */
  flush(): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
    const faults = this.#faults()
    if (!faults.held) {
      const clean = faults.delayMs === 0 && faults.jitterMs === 0
      const nowMs = performance.now()
      while (this.#queue.length > 0) {
        const head = this.#queue[0]
        if (!head || (!clean && head.dueMs > nowMs)) break
        this.#queue.shift()
        this.#write(head.chunk)
      }
      const next = this.#queue[0]
      if (next) {
        this.#timer = setTimeout(() => this.flush(), Math.max(0, next.dueMs - nowMs))
        this.#timer.unref()
      }
    }
    if (this.#ended && this.#queue.length === 0 && !this.discard && this.#to.writable)
      this.#to.end()
  }

  #write(chunk: Buffer): void {
    if (this.discard || this.#to.destroyed) return
    if (!this.#to.write(chunk) && !this.#from.isPaused()) {
      this.#from.pause()
      this.#to.once('drain', () => this.#from.resume())
    }
  }

  /** Drops queued bytes and timers (the connection is going away). */
  dispose(): void {
    clearTimeout(this.#timer)
    this.#queue.length = 0
  }
}
