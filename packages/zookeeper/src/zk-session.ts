import { setMaxListeners } from 'node:events'
import {
  type Created,
  CreateMode,
  sendDelete,
  sendGetChildren,
  sendRawCreate,
  sendSync,
} from './raw-create.js'
import type { ZkClient, ZkEvent, ZkInternals, ZkStat } from './zk-client.js'
import { ZK, zkErrorCode, zookeeper } from './zk-client.js'

/**
 * Most bytes of node paths a session keeps data watches on. node-zookeeper-client re-sends
 * every watch in one SetWatches request on reconnect, and the server refuses a request
 * over its jute.maxbuffer (1 MiB by default) by closing the connection; past this budget
 * (about 10,000 lock nodes with 20-character keys; the rest of the MiB is left for waiters'
 * watches) a node is read on every renewal instead, as before.
 */
const WATCHED_PATH_BYTES = 900 * 1024

/** How a session is opened: where, with which timeout, and how long to wait for it. */
export interface SessionSpec {
  readonly connectString: string
  readonly requestedTimeoutMs: number
  readonly connectTimeoutMs: number
  readonly reconnectDelayMs: number
  readonly signal: AbortSignal
}

/** Why a session is over: the server expired it, it went silent, or the driver closed it. */
export class SessionEndedError extends Error {
  override readonly name = 'SessionEndedError'
}

/**
 * One ZooKeeper session (one node-zookeeper-client `Client`) and its liveness as the
 * driver sees it. The library has no read timeout: a server that stops answering leaves
 * requests queued for ever while the client still says "connected". So every reply
 * records the send time of its request, a timer pings (`exists /`) when nothing else was
 * sent for a third of the session timeout, the session counts as suspended after two
 * thirds without a reply, and it ends (every lock on it lost) once a whole session
 * timeout passed since the last request that got an answer, because by then the server
 * may have expired it and granted its locks to someone else.
 */
export class ZkSession {
  readonly client: ZkClient
  /** The timeout the server negotiated, in ms (clamped to [minSessionTimeout, maxSessionTimeout]). */
  timeoutMs: number
  /** The session id in hex, as ZooKeeper logs it. */
  readonly id: string
  readonly #owned: boolean
  readonly #ended = new AbortController()
  #timer: NodeJS.Timeout
  #raising: Promise<void> | undefined
  readonly #onExpired = () => this.end(new SessionEndedError('the ZooKeeper session expired'))
  /**
   * Off the connection, a watch event may be missed until the library re-sends its watches
   * on reconnect (after requests queued meanwhile): every watched node is read again.
   */
  readonly #onState = (state: { readonly name: string }) => {
    if (state.name !== 'SYNC_CONNECTED') this.#watched.clear()
  }
  #lastReplySentAtMs: number
  #lastSentAtMs: number
  #pinging = false
  /** Paths of ephemeral nodes this session created and has not seen deleted. */
  readonly #created = new Set<string>()
  /** Those of them whose data watch is armed and known to hold, with their stat. */
  readonly #watched = new Map<string, ZkStat>()
  /** Paths with a data watch registered in the library (re-sent in one SetWatches on reconnect). */
  readonly #armed = new Set<string>()
  #armedBytes = 0
  /** The heartbeat not sent yet, which `exists` calls made now join. */
  #nextBeat: Promise<void> | undefined
  /** Rejects of the requests in flight, for end(). */
  readonly #calls = new Set<(reason: unknown) => void>()

  constructor(client: ZkClient, owned: boolean, connectedSentAtMs: number) {
    this.client = client
    this.#owned = owned
    this.timeoutMs = client.getSessionTimeout()
    this.id = client.getSessionId().toString('hex')
    this.#lastReplySentAtMs = connectedSentAtMs
    this.#lastSentAtMs = connectedSentAtMs
    // every waiter listens to `ended` while it waits: many at once is normal
    setMaxListeners(0, this.#ended.signal)
    client.once('expired', this.#onExpired)
    client.once('authenticationFailed', this.#onExpired)
    client.on('state', this.#onState)
    this.#timer = this.#startWatch()
  }

  #startWatch(): NodeJS.Timeout {
    const timer = setInterval(() => this.#watch(), Math.max(10, Math.floor(this.timeoutMs / 6)))
    timer.unref()
    return timer
  }

  /** Opens a new client and waits for its session (bounded by `connectTimeoutMs` and `signal`). */
  static async open(spec: SessionSpec): Promise<ZkSession> {
    const client = zookeeper.createClient(spec.connectString, {
      sessionTimeout: spec.requestedTimeoutMs,
      spinDelay: spec.reconnectDelayMs,
      retries: 0, // never retried by the library: a retried create makes a second node
    })
    guardSocketData(client)
    const sentAtMs = performance.now()
    const connecting = connected(client, spec.connectTimeoutMs, spec.signal)
    client.connect()
    try {
      await connecting
    } catch (err) {
      // close() before the ConnectResponse: drop the socket with the client (see closeClient)
      closeClient(client)
      throw err
    }
    return new ZkSession(client, true, sentAtMs)
  }

  /** Adopts an injected client: waits until it is connected; never closes it unless asked. */
  static async adopt(client: ZkClient, connectTimeoutMs: number, signal: AbortSignal) {
    const sentAtMs = performance.now()
    if (client.getState().name !== 'SYNC_CONNECTED') {
      const connecting = connected(client, connectTimeoutMs, signal)
      client.connect()
      await connecting
    }
    return new ZkSession(client, false, sentAtMs)
  }

  /** Aborted when the session is over; its reason is a `SessionEndedError`. */
  get ended(): AbortSignal {
    return this.#ended.signal
  }

  /** True while no reply came for two thirds of the session timeout. */
  get suspended(): boolean {
    return performance.now() - this.#lastReplySentAtMs > (this.timeoutMs * 2) / 3
  }

  /** Monotonic time until which the server cannot have expired this session. */
  get liveUntilMs(): number {
    return this.#lastReplySentAtMs + this.timeoutMs
  }

  /**
   * Sends one request through `send` and settles with its reply. Any reply the server
   * sent (a value or a ZooKeeper error other than connection loss) proves the session was
   * alive when the request left; rejects at once when the session ends.
   */
  call<T>(send: (done: (error: Error | null, value: T) => void) => void): Promise<T> {
    const ended = this.#ended.signal
    if (ended.aborted) return Promise.reject(ended.reason)
    const sentAtMs = performance.now()
    this.#lastSentAtMs = sentAtMs
    return new Promise<T>((resolve, reject) => {
      // rejected by end(): a Set entry is cheaper than an abort listener per request
      this.#calls.add(reject)
      send((error, value) => {
        this.#calls.delete(reject)
        const code = zkErrorCode(error)
        if (code !== ZK.CONNECTION_LOSS && code !== ZK.SESSION_EXPIRED) this.#replied(sentAtMs)
        if (code === ZK.SESSION_EXPIRED) this.#onExpired()
        if (error) reject(error)
        else resolve(value)
      })
    })
  }

  /** A raw `create2`/`createContainer` (see raw-create.ts) on this session. */
  create(path: string, data: Buffer, mode: number): Promise<Created> {
    return this.call<Created>((done) =>
      sendRawCreate(this.client, path, data, mode, (error, created) => {
        if (error === null && mode === CreateMode.EPHEMERAL_SEQUENTIAL) {
          if (!this.#ended.signal.aborted) this.#created.add(created.path)
        }
        done(error, created)
      }),
    )
  }

  /** A `sync` of `path` (see raw-create.ts): reads sent after it see what the leader had then. */
  sync(path: string): Promise<void> {
    return this.call<void>((done) => sendSync(this.client, path, (error) => done(error)))
  }

  getChildren(path: string): Promise<string[]> {
    return this.call<string[]>((done) => sendGetChildren(this.client, path, done))
  }

  /**
   * The node's stat, or null when it does not exist, as of a request sent after this call.
   * A node this session created (its lock nodes) is read once with a data watch; while
   * that watch has not fired, later calls are answered by one shared heartbeat instead of
   * one read each, so renewing 10,000 locks on a session is one request, not 10,000
   * queued behind each other. ZooKeeper delivers a watch event before the reply to any
   * request it served after the change, so a heartbeat reply with the watch still armed
   * proves the node was unchanged when the heartbeat was served: the answer is the one a
   * read at that moment would have given.
   */
  exists(path: string): Promise<ZkStat | null> {
    if (this.#watched.has(path)) return this.#confirmWatched(path)
    if (!this.#created.has(path)) return this.#read(path)
    const bytes = Buffer.byteLength(path) + 4
    if (!this.#armed.has(path) && this.#armedBytes + bytes > WATCHED_PATH_BYTES) {
      return this.#read(path)
    }
    const onEvent = (event: ZkEvent) => {
      this.#watched.delete(path)
      if (this.#armed.delete(path)) this.#armedBytes -= bytes
      if (event.type === zookeeper.Event.NODE_DELETED) this.#created.delete(path)
    }
    // getData, not exists: on a missing node it leaves no watch behind (exists would leave
    // one waiting for a creation that never comes)
    return this.call<ZkStat | null>((done) =>
      this.client.getData(path, onEvent, (error, _data, stat) => {
        if (zkErrorCode(error) === ZK.NO_NODE) done(null, null)
        else done(error, stat)
      }),
    ).then((stat) => {
      if (stat === null) {
        this.#created.delete(path)
        return null
      }
      if (!this.#armed.has(path)) {
        this.#armed.add(path)
        this.#armedBytes += bytes
      }
      if (this.#created.has(path) && !this.#ended.signal.aborted) this.#watched.set(path, stat)
      return stat
    })
  }

  /** Nodes this session created and their data watches armed now (tests, H1). */
  get nodeWatches(): {
    readonly created: number
    readonly watched: number
    readonly armed: number
  } {
    return { created: this.#created.size, watched: this.#watched.size, armed: this.#armed.size }
  }

  #read(path: string): Promise<ZkStat | null> {
    return this.call<ZkStat | null>((done) => this.client.exists(path, done))
  }

  async #confirmWatched(path: string): Promise<ZkStat | null> {
    await this.#heartbeat()
    // the watch fired before the heartbeat's reply: read the node itself
    return this.#watched.get(path) ?? this.exists(path)
  }

  /**
   * One `exists /` sent on the next microtask, shared by every call made before it left:
   * its reply comes after the server served every request of this session sent before it.
   */
  #heartbeat(): Promise<void> {
    this.#nextBeat ??= Promise.resolve().then(() => {
      this.#nextBeat = undefined
      return this.#read('/').then(() => undefined)
    })
    return this.#nextBeat
  }

  /** `getData` with a one-shot watch; resolves with the node's stat, rejects NONODE if it is gone. */
  watchData(path: string, watcher: (event: ZkEvent) => void): Promise<ZkStat> {
    return this.call<ZkStat>((done) =>
      this.client.getData(path, watcher, (error, _data, stat) => done(error, stat)),
    )
  }

  remove(path: string): Promise<void> {
    return this.call<void>((done) =>
      sendDelete(this.client, path, (error) => {
        if (zkErrorCode(error) !== ZK.CONNECTION_LOSS) this.#forget(path)
        done(error)
      }),
    )
  }

  #forget(path: string): void {
    this.#created.delete(path)
    this.#watched.delete(path)
  }

  /** True when the driver made this client (and may reconnect or close it). */
  get owned(): boolean {
    return this.#owned
  }

  /**
   * Asks the server for a longer timeout for this live session (a longer `extend`): the
   * client reconnects with the same session id and password, and its ConnectRequest
   * carries the new timeout, which the server negotiates again (within its bounds) for the
   * session. Requests in flight at that moment fail with connection loss, as on any
   * reconnect. Every lock on the session keeps the longer timeout from then on.
   */
  raiseTimeout(timeoutMs: number, connectTimeoutMs: number): Promise<void> {
    if (timeoutMs <= this.timeoutMs || !this.#owned) return Promise.resolve()
    this.#raising ??= (async () => {
      const { connectionManager } = this.client as unknown as ZkInternals
      connectionManager.updateTimeout(timeoutMs)
      const connecting = connected(this.client, connectTimeoutMs, this.#ended.signal)
      connectionManager.socket?.destroy()
      await connecting
      this.timeoutMs = this.client.getSessionTimeout()
      clearInterval(this.#timer)
      if (!this.#ended.signal.aborted) this.#timer = this.#startWatch()
    })().finally(() => {
      this.#raising = undefined
    })
    return this.#raising
  }

  /** Ends the session: aborts `ended` with `reason` and closes the client if the driver owns it. */
  end(reason: SessionEndedError, graceful = false): void {
    if (this.#ended.signal.aborted) return
    clearInterval(this.#timer)
    this.client.removeListener('expired', this.#onExpired)
    this.client.removeListener('authenticationFailed', this.#onExpired)
    this.client.removeListener('state', this.#onState)
    this.#ended.abort(reason)
    this.#created.clear()
    this.#watched.clear()
    this.#armed.clear()
    this.#armedBytes = 0
    for (const reject of this.#calls) reject(reason)
    this.#calls.clear()
    if (!this.#owned) return
    // an expired or silent session has nothing left to say: drop the socket now rather than
    // let a late burst of bytes reach a client that is closing
    if (graceful) closeClient(this.client)
    else {
      this.client.close()
      destroySocket(this.client)
    }
  }

  /** Closes: ends the session; with `closeClient`, also an injected client. Waits briefly for the socket. */
  async close(closeClient: boolean): Promise<void> {
    const wasOpen = this.client.getState().name !== 'DISCONNECTED'
    this.end(new SessionEndedError('the ZooKeeper driver closed the session'), true)
    if (!this.#owned && closeClient) this.client.close()
    if (wasOpen && (this.#owned || closeClient)) {
      // closeSession is one request; a server that does not answer must not keep the socket
      if (!(await disconnected(this.client, 2_000))) destroySocket(this.client)
    }
  }

  #replied(sentAtMs: number): void {
    if (sentAtMs > this.#lastReplySentAtMs) this.#lastReplySentAtMs = sentAtMs
  }

  #watch(): void {
    const nowMs = performance.now()
    if (nowMs >= this.#lastReplySentAtMs + this.timeoutMs * 0.99 - 2) {
      this.end(
        new SessionEndedError(
          `no reply from ZooKeeper for the whole session timeout (${this.timeoutMs} ms): the server may have expired the session`,
        ),
      )
      return
    }
    if (this.#pinging || nowMs - this.#lastSentAtMs < this.timeoutMs / 3) return
    this.#pinging = true
    this.exists('/')
      .catch(() => {})
      .finally(() => {
        this.#pinging = false
      })
  }
}

function connected(client: ZkClient, timeoutMs: number, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const done = (error?: Error) => {
      clearTimeout(timer)
      signal.removeEventListener('abort', onAbort)
      client.removeListener('connected', onConnected)
      client.removeListener('expired', onExpired)
      if (error) reject(error)
      else resolve()
    }
    const onConnected = () => done()
    const onExpired = () =>
      done(new SessionEndedError('the ZooKeeper session expired while connecting'))
    const onAbort = () =>
      done(signal.reason instanceof Error ? signal.reason : new Error('aborted'))
    const timer = setTimeout(
      () => done(new Error(`no ZooKeeper server answered within ${timeoutMs} ms`)),
      timeoutMs,
    )
    if (signal.aborted) return onAbort()
    signal.addEventListener('abort', onAbort, { once: true })
    client.once('connected', onConnected)
    client.once('expired', onExpired)
  })
}

/** Resolves true once the client's socket closed, false after `timeoutMs`. */
function disconnected(client: ZkClient, timeoutMs: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const done = (closed: boolean) => {
      clearTimeout(timer)
      client.removeListener('disconnected', onClosed)
      resolve(closed)
    }
    const onClosed = () => done(true)
    const timer = setTimeout(() => done(false), timeoutMs)
    client.once('disconnected', onClosed)
  })
}

/**
 * Closes a client the driver owns. node-zookeeper-client reads every frame by its own
 * state: once close() moved it to CLOSING, a ConnectResponse still on the way (the client
 * was connecting or reconnecting) is read as a reply, and an error code it does not know
 * makes it throw from the socket's 'data' handler. So a client that is not connected is
 * closed with its socket dropped at once: there is no session to close gracefully on it.
 */
function closeClient(client: ZkClient): void {
  const connected = client.getState().name === 'SYNC_CONNECTED'
  client.close()
  if (!connected) destroySocket(client)
}

/**
 * node-zookeeper-client throws from its socket's 'data' handler on bytes it cannot read
 * (an unknown error code, a frame read in the wrong state), an uncaught exception in the
 * user's process. On a client the driver owns, such a throw drops the connection instead,
 * which is what the library does itself for frames it rejects (out-of-order xid): pending
 * requests fail with connection loss (the one whose reply could not be read too: its
 * outcome is unknown) and the session reconnects or ends.
 */
function guardSocketData(client: ZkClient): void {
  const manager = (client as unknown as ZkInternals).connectionManager
  const onSocketData = manager.onSocketData
  manager.onSocketData = function guarded(this: typeof manager, buffer: Buffer): void {
    const head = this.pendingQueue[0]
    try {
      onSocketData.call(this, buffer)
    } catch {
      // the library took `head` off the queue for this frame before it threw
      if (head !== undefined && this.pendingQueue[0] !== head) {
        head.callback?.(zookeeper.Exception.create(ZK.CONNECTION_LOSS))
      }
      this.socket?.destroy()
    }
  }
}

function destroySocket(client: ZkClient): void {
  ;(client as unknown as ZkInternals).connectionManager.socket?.destroy()
}
