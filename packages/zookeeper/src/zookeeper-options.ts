import type { ZkClient } from './zk-client.js'

/** How a `ZookeeperDriver` reaches ZooKeeper and maps keys; see README "Options". */
export interface ZookeeperDriverOptions {
  /** `zk://host:port[,host:port...][/chroot][?root=/path]`. Either this or `client`. */
  readonly url?: string
  /**
   * An injected node-zookeeper-client `Client` (connected or not). The driver then has one
   * session, whose timeout the application chose, and cannot replace it after expiry.
   */
  readonly client?: ZkClient
  /** Whether `close()` closes an injected client. Default false (clients the driver made are always closed). */
  readonly closeClient?: boolean
  /** Parent of every lock path (see `lockPath`). Default `/baton`; `?root=` in the URL. */
  readonly rootPath?: string
  /**
   * The server's lowest session timeout (`minSessionTimeout`; ZooKeeper's default is
   * 2 x tickTime = 4000 ms), which is the smallest TTL the driver accepts. Default 4000.
   */
  readonly minSessionTimeoutMs?: number
  /** How long `ready()` and opening a session wait for the server. Default 10 000 ms. */
  readonly connectTimeoutMs?: number
  /** Most sessions the driver opens (one per distinct TTL, up to this many). Default 4. */
  readonly maxSessions?: number
  /** Pause between the client's reconnection attempts, in ms. Default 100. */
  readonly reconnectDelayMs?: number
  /**
   * Which Curator recipe an exclusive acquire (and an election) speaks: `InterProcessMutex`
   * (default; `lock-` nodes, which Curator's InterProcessMutex and LeaderSelector see) or
   * `InterProcessReadWriteLock` (`__WRIT__` nodes, which Curator's read-write lock sees).
   * Baton itself treats both as writers; see README "Shared locks".
   */
  readonly exclusiveRecipe?: ExclusiveRecipe
}

/** The Curator recipe of Baton's exclusive mode (see `ZookeeperDriverOptions.exclusiveRecipe`). */
export type ExclusiveRecipe = 'InterProcessMutex' | 'InterProcessReadWriteLock'

/** Options after defaults, validated and frozen. */
export interface ResolvedZookeeperOptions {
  /** `host:port,...[/chroot]` for node-zookeeper-client; undefined with an injected client. */
  readonly connectString: string | undefined
  readonly client: ZkClient | undefined
  readonly closeClient: boolean
  readonly rootPath: string
  readonly minSessionTimeoutMs: number
  readonly connectTimeoutMs: number
  readonly maxSessions: number
  readonly reconnectDelayMs: number
  readonly exclusiveRecipe: ExclusiveRecipe
}

/** A parsed `zk://` URL: the connect string and the optional `root` query parameter. */
export interface ParsedZookeeperUrl {
  readonly connectString: string
  readonly rootPath: string | undefined
}

const HOST_PORT = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/

/** Parses `zk://h1:p1,h2:p2/chroot?root=/locks`; throws a TypeError naming what is wrong. */
export function parseZookeeperUrl(url: string): ParsedZookeeperUrl {
  if (typeof url !== 'string' || !url.startsWith('zk://')) {
    throw new TypeError('a ZooKeeper URL must look like zk://host:port[,host:port...][/chroot]')
  }
  const [location = '', query = ''] = url.slice('zk://'.length).split('?', 2)
  const slash = location.indexOf('/')
  const hostList = slash < 0 ? location : location.slice(0, slash)
  const chroot = slash < 0 ? '' : location.slice(slash)
  const hosts = hostList.split(',')
  for (const host of hosts) {
    const match = HOST_PORT.exec(host)
    const port = Number(match?.[2])
    if (!match || port < 1 || port > 65_535) {
      throw new TypeError(`ZooKeeper URL: "${host}" is not host:port`)
    }
  }
  if (chroot !== '') checkPath(chroot, 'ZooKeeper URL chroot')
  const root = new URLSearchParams(query).get('root') ?? undefined
  if (root !== undefined) checkPath(root, 'ZooKeeper URL root')
  return { connectString: `${hostList}${chroot === '/' ? '' : chroot}`, rootPath: root }
}

/** Checks an absolute ZooKeeper path with no trailing slash and no empty, `.` or `..` part. */
function checkPath(path: string, name: string): void {
  const parts = path.split('/').slice(1)
  const ok =
    path.startsWith('/') &&
    (path === '/' || parts.every((p) => p !== '' && p !== '.' && p !== '..' && !p.includes('\0')))
  if (!ok) throw new TypeError(`${name} must be an absolute path like /locks, got "${path}"`)
}

function positiveInteger(value: number | undefined, fallback: number, name: string): number {
  const v = value ?? fallback
  if (!Number.isInteger(v) || v < 1) {
    throw new RangeError(`ZookeeperDriver option ${name} must be an integer >= 1, got ${v}`)
  }
  return v
}

/** Fills in defaults, validates and freezes. */
export function resolveZookeeperOptions(options: ZookeeperDriverOptions): ResolvedZookeeperOptions {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('ZookeeperDriver needs options with a url or a client')
  }
  const { url, client } = options
  if ((url === undefined) === (client === undefined)) {
    throw new TypeError('ZookeeperDriver needs exactly one of options.url and options.client')
  }
  const parsed = url === undefined ? undefined : parseZookeeperUrl(url)
  const rootPath = options.rootPath ?? parsed?.rootPath ?? '/baton'
  checkPath(rootPath, 'ZookeeperDriver option rootPath')
  const exclusiveRecipe = options.exclusiveRecipe ?? 'InterProcessMutex'
  if (exclusiveRecipe !== 'InterProcessMutex' && exclusiveRecipe !== 'InterProcessReadWriteLock') {
    throw new TypeError(
      `ZookeeperDriver option exclusiveRecipe must be 'InterProcessMutex' or 'InterProcessReadWriteLock', got ${String(exclusiveRecipe)}`,
    )
  }
  return Object.freeze({
    connectString: parsed?.connectString,
    client,
    closeClient: client === undefined ? true : (options.closeClient ?? false),
    rootPath,
    minSessionTimeoutMs: positiveInteger(options.minSessionTimeoutMs, 4_000, 'minSessionTimeoutMs'),
    connectTimeoutMs: positiveInteger(options.connectTimeoutMs, 10_000, 'connectTimeoutMs'),
    maxSessions: positiveInteger(options.maxSessions, 4, 'maxSessions'),
    reconnectDelayMs: positiveInteger(options.reconnectDelayMs, 100, 'reconnectDelayMs'),
    exclusiveRecipe,
  })
}
