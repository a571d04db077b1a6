import type { Etcd3, Watcher } from 'etcd3'

/** Why a wait for a deletion ended. `recheck`: re-read the queue (stream broke, watch error, backstop). */
export type DeleteWait = 'deleted' | 'recheck' | 'aborted'

/** A key a waiter watches: its name and the create revision it had when read. */
export interface WatchedKey {
  readonly key: Buffer
  readonly createRevision: string
}

/** What a wait watches: one key, or every key under a prefix; deletes, and puts with `puts`. */
export interface WatchTarget {
  readonly key: Buffer
  readonly prefix?: boolean
  readonly puts?: boolean
}

/**
 * The driver's one long-lived watch stream. etcd3 multiplexes every watcher of a client on
 * one gRPC stream, but closes the stream with its last watcher, so the next wait would open
 * a new one: an anchor watcher on a key nobody writes keeps it open until close. Each wait
 * then costs one create request on that stream. Watchers start at the current revision
 * (synced at once: a watcher with an older start revision is caught up by etcd in batches
 * every 100 ms), and the waiter closes the gap between its read and the watch itself.
 */
export class WatchHub {
  readonly #client: Etcd3
  readonly #anchorKey: string
  #anchor: Watcher | undefined
  readonly #waits = new Set<Watcher>()
  readonly #cancels = new Set<Promise<unknown>>()

  constructor(client: Etcd3, anchorKey: string) {
    this.#client = client
    this.#anchorKey = anchorKey
  }

  /** Watchers open now, the anchor included (tests). */
  get watcherCount(): number {
    return this.#waits.size + (this.#anchor === undefined ? 0 : 1)
  }

  /**
   * Waits until `target` is deleted (or replaced), the stream breaks, `recheckMs` passes or
   * `signal` aborts. `readRevision` is the store revision of the read that found `target`;
   * `stillThere` re-reads it when the watch was created after a later revision.
   */
  waitForDelete(
    target: WatchedKey,
    readRevision: string,
    stillThere: () => Promise<boolean>,
    recheckMs: number,
    signal: AbortSignal,
  ): Promise<DeleteWait> {
    return this.waitForEvent({ key: target.key }, readRevision, stillThere, recheckMs, signal)
  }

  /**
   * Waits for an event on `target`: a delete of its key (or of any key under it with
   * `prefix`), or also a put with `puts`. Resolves 'deleted' on the event; `stillBlocked`
   * is read when the watch started after `readRevision` (false: the awaited change happened
   * in the gap).
   */
  async waitForEvent(
    target: WatchTarget,
    readRevision: string,
    stillBlocked: () => Promise<boolean>,
    recheckMs: number,
    signal: AbortSignal,
  ): Promise<DeleteWait> {
    if (signal.aborted) return 'aborted'
    this.#ensureAnchor()
    const builder = this.#client.watch()
    if (target.prefix === true) builder.prefix(target.key)
    else builder.key(target.key)
    if (target.puts !== true) builder.only('delete')
    const watcher = builder.watcher()
    this.#waits.add(watcher)
    let settle: (outcome: DeleteWait) => void = () => {}
    const ended = new Promise<DeleteWait>((resolve) => {
      settle = resolve
    })
    const onAbort = () => settle('aborted')
    signal.addEventListener('abort', onAbort, { once: true })
    const timer = setTimeout(() => settle('recheck'), recheckMs)
    timer.unref()
    watcher.on('delete', () => settle('deleted'))
    if (target.puts === true) watcher.on('put', () => settle('deleted'))
    watcher.on('disconnected', () => settle('recheck'))
    watcher.on('error', () => settle('recheck'))
    watcher.once('connected', (res: { header: { revision: string } }) => {
      // Events up to the watch's start revision are not delivered: if anything was
      // written since the read, read again.
      if (res.header.revision === readRevision) return
      stillBlocked().then(
        (blocked) => {
          if (!blocked) settle('deleted')
        },
        () => settle('recheck'),
      )
    })
    try {
      return await ended
    } finally {
      clearTimeout(timer)
      signal.removeEventListener('abort', onAbort)
      watcher.removeAllListeners('delete')
      watcher.removeAllListeners('put')
      // The cancel is not on a grant's path: send it after the waiter's next read.
      setImmediate(() => {
        if (this.#waits.delete(watcher)) this.#cancel(watcher)
      })
    }
  }

  /** Cancels every watcher, the anchor last, so the stream closes. */
  async close(): Promise<void> {
    for (const watcher of this.#waits) this.#cancel(watcher)
    this.#waits.clear()
    if (this.#anchor !== undefined) this.#cancel(this.#anchor)
    this.#anchor = undefined
    const grace = new Promise((resolve) => setTimeout(resolve, 1_000).unref())
    await Promise.race([Promise.allSettled([...this.#cancels]), grace])
  }

  #ensureAnchor(): void {
    if (this.#anchor !== undefined) return
    const anchor = this.#client.watch().key(this.#anchorKey).only('delete').watcher()
    anchor.on('error', () => {
      // The anchor only keeps the stream open; a failed one is replaced on the next wait.
      if (this.#anchor === anchor) this.#anchor = undefined
    })
    this.#anchor = anchor
  }

  #cancel(watcher: Watcher): void {
    watcher.removeAllListeners('delete')
    watcher.removeAllListeners('put')
    watcher.on('error', () => {})
    const cancel = watcher.cancel().catch(() => undefined)
    const tracked = cancel.finally(() => this.#cancels.delete(tracked))
    this.#cancels.add(tracked)
  }
}
