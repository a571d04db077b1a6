import { ZkSession } from './zk-session.js'
import type { ResolvedZookeeperOptions } from './zookeeper-options.js'

/** The session timeout asked for by the control session (inspect, list, forceRelease). */
const CONTROL_TIMEOUT_MS = 30_000

/**
 * The sessions a driver owns: one per requested TTL (the session timeout IS the TTL on
 * ZooKeeper), at most `maxSessions`; beyond that a TTL shares the session whose timeout
 * is closest below it (its locks are granted that shorter TTL). An expired or silent
 * session is dropped and the next request opens a new client. With an injected client
 * there is exactly one session, for every TTL.
 */
export class SessionPool {
  readonly #options: ResolvedZookeeperOptions
  readonly #closing: AbortSignal
  readonly #onEnd: (session: ZkSession, reason: unknown) => void
  readonly #byTtl = new Map<number, Promise<ZkSession>>()
  readonly #open = new Set<ZkSession>()
  /** The sessions of `#byTtl` once open, for `liveFor` (no promise to wait for). */
  readonly #live = new Map<number, ZkSession>()
  #injected: Promise<ZkSession> | undefined
  #adopted: ZkSession | undefined

  constructor(
    options: ResolvedZookeeperOptions,
    closing: AbortSignal,
    onEnd: (session: ZkSession, reason: unknown) => void,
  ) {
    this.#options = options
    this.#closing = closing
    this.#onEnd = onEnd
  }

  /** Live sessions right now. */
  get size(): number {
    return this.#open.size
  }

  /**
   * The session `forTtl(ttlMs)` would give when it is open and live already, else
   * undefined: the usual acquire takes it without a promise in between.
   */
  liveFor(ttlMs: number): ZkSession | undefined {
    const session = this.#options.client === undefined ? this.#live.get(ttlMs) : this.#adopted
    return session === undefined || session.ended.aborted ? undefined : session
  }

  /** The session for locks of `ttlMs`, opened on first use. */
  async forTtl(ttlMs: number): Promise<ZkSession> {
    const { client } = this.#options
    if (client !== undefined) {
      this.#injected ??= this.#track(
        ZkSession.adopt(client, this.#options.connectTimeoutMs, this.#closing),
        undefined,
      )
      const session = await this.#injected
      if (session.ended.aborted) throw session.ended.reason
      return session
    }
    const existing = this.#byTtl.get(ttlMs)
    if (existing !== undefined) {
      const session = await existing
      if (!session.ended.aborted) return session
    }
    if (this.#byTtl.size >= this.#options.maxSessions) {
      const shared = this.#closestBelow(ttlMs)
      if (shared !== undefined) return shared
    }
    const opening = this.#track(
      ZkSession.open({
        connectString: this.#options.connectString ?? '',
        requestedTimeoutMs: ttlMs,
        connectTimeoutMs: this.#options.connectTimeoutMs,
        reconnectDelayMs: this.#options.reconnectDelayMs,
        signal: this.#closing,
      }),
      ttlMs,
    )
    this.#byTtl.set(ttlMs, opening)
    return opening
  }

  /** A live session for reads and operations: any open one, else a new one. */
  control(): Promise<ZkSession> {
    for (const session of this.#open) if (!session.ended.aborted) return Promise.resolve(session)
    return this.forTtl(Math.max(CONTROL_TIMEOUT_MS, this.#options.minSessionTimeoutMs))
  }

  /** Ends every session (closing the client where the driver owns it). */
  async close(): Promise<void> {
    const opening = [...this.#byTtl.values(), ...(this.#injected ? [this.#injected] : [])]
    const sessions = (await Promise.allSettled(opening)).flatMap((r) =>
      r.status === 'fulfilled' ? [r.value] : [],
    )
    await Promise.allSettled(sessions.map((s) => s.close(this.#options.closeClient)))
  }

  #closestBelow(ttlMs: number): ZkSession | undefined {
    let best: ZkSession | undefined
    for (const session of this.#open) {
      if (session.ended.aborted) continue
      const fits = session.timeoutMs <= ttlMs
      if (best === undefined) best = session
      else if (fits && (best.timeoutMs > ttlMs || session.timeoutMs > best.timeoutMs))
        best = session
      else if (!fits && best.timeoutMs > ttlMs && session.timeoutMs < best.timeoutMs) best = session
    }
    return best
  }

  #track(opening: Promise<ZkSession>, ttlMs: number | undefined): Promise<ZkSession> {
    const tracked = opening.then((session) => {
      this.#open.add(session)
      if (ttlMs === undefined) this.#adopted = session
      else if (this.#byTtl.get(ttlMs) === tracked) this.#live.set(ttlMs, session)
      session.ended.addEventListener(
        'abort',
        () => {
          this.#open.delete(session)
          if (ttlMs !== undefined && this.#live.get(ttlMs) === session) this.#live.delete(ttlMs)
          if (ttlMs !== undefined && this.#byTtl.get(ttlMs) === tracked) this.#byTtl.delete(ttlMs)
          this.#onEnd(session, session.ended.reason)
        },
        { once: true },
      )
      return session
    })
    // a failed open is forgotten, so the next request tries again
    tracked.catch(() => {
      if (ttlMs !== undefined && this.#byTtl.get(ttlMs) === tracked) this.#byTtl.delete(ttlMs)
      if (ttlMs === undefined && this.#injected === tracked) this.#injected = undefined
    })
    return tracked
  }
}
