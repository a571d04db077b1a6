import { createRequire } from 'node:module'

// node-zookeeper-client is CommonJS with no type declarations of its own; this file types
// the subset the driver calls (STYLE: clients typed by the subset we call).
const require = createRequire(import.meta.url)

/** A znode's `Stat` as node-zookeeper-client decodes it: 64-bit fields are 8-byte Buffers. */
export interface ZkStat {
  readonly czxid: Buffer
  readonly mzxid: Buffer
  readonly ephemeralOwner: Buffer
  readonly version: number
  readonly cversion: number
  readonly numChildren: number
}

/** The watcher event passed to a `getData`/`exists` watcher. */
export interface ZkEvent {
  readonly type: number
  readonly name: string
  readonly path: string
}

type Callback<T> = (error: Error | null, result: T) => void

/** The part of node-zookeeper-client's `Client` that Baton uses. */
export interface ZkClient {
  connect(): void
  close(): void
  getState(): { readonly name: string; readonly code: number }
  getSessionId(): Buffer
  getSessionTimeout(): number
  once(
    event: 'connected' | 'disconnected' | 'expired' | 'authenticationFailed',
    listener: () => void,
  ): unknown
  on(
    event: 'state',
    listener: (state: { readonly name: string; readonly code: number }) => void,
  ): unknown
  removeListener(event: string, listener: (...args: never[]) => void): unknown
  getChildren(
    path: string,
    callback: (error: Error | null, children: string[], stat: ZkStat) => void,
  ): void
  getData(
    path: string,
    watcher: ((event: ZkEvent) => void) | undefined,
    callback: (error: Error | null, data: Buffer | undefined, stat: ZkStat) => void,
  ): void
  exists(path: string, callback: Callback<ZkStat | null>): void
  /** With a watcher: a data watch when the node exists (fires on change or delete), else an existence watch. */
  exists(path: string, watcher: (event: ZkEvent) => void, callback: Callback<ZkStat | null>): void
  remove(path: string, version: number, callback: (error: Error | null) => void): void
}

/** The library's internals that the raw create requests need (see raw-create.ts). */
export interface ZkInternals {
  readonly connectionManager: {
    queue(request: unknown, callback: (error: Error | null, response: ZkResponse) => void): void
    readonly chrootPath?: string
    /** Sets the timeout the next ConnectRequest asks for. */
    updateTimeout(timeoutMs: number): void
    readonly socket?: { destroy(): void }
    /** The socket's 'data' handler; bound to the manager on every connect. */
    onSocketData(buffer: Buffer): void
    /** Requests sent and not answered yet, oldest first. */
    readonly pendingQueue: ReadonlyArray<{ readonly callback?: (error: Error) => void }>
  }
}

/** A decoded reply: header and payload records. */
export interface ZkResponse {
  readonly header: { readonly zxid: Buffer }
  readonly payload: {
    readonly data: Buffer
    readonly stat: ZkStat
    /** GetChildren2Response's. */
    readonly children: string[]
  } | null
}

/** The records and constants of the library's `lib/jute` module that raw-create.ts uses. */
export interface ZkJute {
  readonly OP_CODES: {
    readonly GET_DATA: number
    readonly CREATE: number
    readonly GET_CHILDREN2: number
    readonly DELETE: number
  }
  readonly protocol: {
    readonly RequestHeader: new () => { type: number; xid: number }
    readonly CreateRequest: new () => { path: string; data: Buffer; acl: unknown[]; flags: number }
    readonly GetACLRequest: new () => { path: string }
    readonly GetChildren2Request: new () => { path: string; watch: boolean }
    readonly DeleteRequest: new () => { path: string; version: number }
  }
  readonly Request: new (
    header: unknown,
    payload: unknown,
  ) => { toBuffer(): Buffer; header: { type: number } }
}

/** The module's top-level exports that Baton uses. */
interface ZkModule {
  createClient(
    connectionString: string,
    options: { sessionTimeout: number; spinDelay: number; retries: number },
  ): ZkClient
  readonly ACL: { readonly OPEN_ACL_UNSAFE: Array<{ toRecord(): unknown }> }
  readonly Exception: {
    readonly NO_NODE: number
    readonly NODE_EXISTS: number
    create(code: number): Error
  }
  readonly Event: { readonly NODE_DELETED: number }
}

export const zookeeper: ZkModule = require('node-zookeeper-client')
export const jute: ZkJute = require('node-zookeeper-client/lib/jute/index.js')

/** The ZooKeeper error code of a node-zookeeper-client error (e.g. -101 NONODE), if any. */
export function zkErrorCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'number' ? code : undefined
}

/** ZooKeeper error codes the driver branches on. */
export const ZK = {
  CONNECTION_LOSS: -4,
  UNIMPLEMENTED: -6,
  NO_NODE: -101,
  NODE_EXISTS: -110,
  NOT_EMPTY: -111,
  SESSION_EXPIRED: -112,
} as const

/** A 64-bit zxid or session id (8-byte big-endian Buffer) as a bigint; all 64 bits kept. */
export function longOf(buffer: Buffer): bigint {
  return buffer.readBigUInt64BE(0)
}
