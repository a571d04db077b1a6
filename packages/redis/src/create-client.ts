import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis'
import { isMultiHostUrl, type MultiHostUrl, parseMultiHostUrl } from './multi-host-url.js'
import type { RedisDriverOptions } from './redis-options.js'
import { clientOptionWarnings } from './server-facts.js'

/**
 * Options that keep a partitioned holder from sending stale lock commands: nothing is
 * queued while disconnected, nothing is resent after a reconnect, nothing is retried.
 */
export const SAFE_CLIENT_OPTIONS = Object.freeze({
  enableOfflineQueue: false,
  autoResendUnfulfilledCommands: false,
  maxRetriesPerRequest: 0,
} satisfies RedisOptions)

/** Checks the scheme without echoing the URL (it may hold a password). */
export function checkRedisUrl(url: string): void {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new TypeError(
      'invalid Redis URL: expected redis://[user:password@]host[:port][/db] or rediss://...',
    )
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new TypeError(
      `invalid Redis URL: scheme must be redis: or rediss:, got ${parsed.protocol}`,
    )
  }
  if (parsed.hostname === '') throw new TypeError('invalid Redis URL: no host')
}

/** A lazily connecting client for `url` with the safe options on top of `extra`. */
export function clientFromUrl(
  url: string,
  extra: RedisOptions,
  commandTimeoutMs: number,
  connectTimeoutMs: number,
): Redis | Cluster {
  if (isMultiHostUrl(url)) {
    const parsed = parseMultiHostUrl(url)
    if (parsed.scheme.endsWith('+cluster'))
      return clusterClient(parsed, extra, commandTimeoutMs, connectTimeoutMs)
    if (parsed.scheme.endsWith('+sentinel'))
      return sentinelClient(parsed, extra, commandTimeoutMs, connectTimeoutMs)
    throw new TypeError(`invalid Redis URL: ${parsed.scheme}:// is served by RedlockDriver`)
  }
  checkRedisUrl(url)
  return new Redis(url, {
    connectTimeout: connectTimeoutMs,
    commandTimeout: commandTimeoutMs,
    ...extra,
    ...SAFE_CLIENT_OPTIONS,
    lazyConnect: true,
  })
}

/**
 * A Redis Cluster client for `redis+cluster://[user:password@]h1:p1,h2:p2`: every node
 * connection gets the safe options; redirections (MOVED, ASK, TRYAGAIN) are followed by
 * ioredis, which is safe because every script touches one slot (see cluster-topology.ts).
 */
function clusterClient(
  parsed: MultiHostUrl,
  extra: RedisOptions,
  commandTimeoutMs: number,
  connectTimeoutMs: number,
): Cluster {
  if (parsed.path.length > 0)
    throw new TypeError('invalid Redis URL: a cluster has no database number')
  return new Cluster(
    [...parsed.hosts],
    clusterOptions(parsed, extra, commandTimeoutMs, connectTimeoutMs),
  )
}

/** Cluster options with the safe node options on top of `extra`. */
export function clusterOptions(
  parsed: Pick<MultiHostUrl, 'username' | 'password' | 'tls'>,
  extra: RedisOptions,
  commandTimeoutMs: number,
  connectTimeoutMs: number,
): ClusterOptions {
  return {
    lazyConnect: true,
    enableOfflineQueue: false,
    // Failover takes cluster-node-timeout plus an election: keep retrying the slot that long.
    retryDelayOnFailover: 200,
    retryDelayOnClusterDown: 200,
    retryDelayOnTryAgain: 50,
    maxRedirections: 16,
    slotsRefreshTimeout: Math.max(1_000, commandTimeoutMs),
    redisOptions: {
      connectTimeout: connectTimeoutMs,
      commandTimeout: commandTimeoutMs,
      ...extra,
      ...(parsed.username === undefined ? {} : { username: parsed.username }),
      ...(parsed.password === undefined ? {} : { password: parsed.password }),
      ...(parsed.tls ? { tls: extra.tls ?? {} } : {}),
      // (ioredis keeps a node's offline queue on; the Cluster's own is off, above)
      autoResendUnfulfilledCommands: false,
      maxRetriesPerRequest: 0,
    },
  }
}

/**
 * A client for `redis+sentinel://[user:password@]s1:p1,s2:p2/<masterName>[/<db>]`: ioredis asks
 * the sentinels for the master, reconnects to the new one after a failover (the driver then
 * sees a new run id and treats every lease as lost). `?sentinelPassword=` authenticates to
 * the sentinels; the URL's password is the data servers'.
 */
function sentinelClient(
  parsed: MultiHostUrl,
  extra: RedisOptions,
  commandTimeoutMs: number,
  connectTimeoutMs: number,
): Redis {
  const [name, db, ...more] = parsed.path
  if (name === undefined || more.length > 0) {
    throw new TypeError(
      'invalid Redis URL: expected redis+sentinel://host:port,.../<masterName>[/<db>]',
    )
  }
  if (db !== undefined && !/^\d+$/.test(db))
    throw new TypeError('invalid Redis URL: db must be a number')
  const sentinelPassword = parsed.params.get('sentinelPassword') ?? undefined
  return new Redis({
    connectTimeout: connectTimeoutMs,
    commandTimeout: commandTimeoutMs,
    ...extra,
    sentinels: [...parsed.hosts],
    name,
    ...(db === undefined ? {} : { db: Number(db) }),
    ...(parsed.username === undefined ? {} : { username: parsed.username }),
    ...(parsed.password === undefined ? {} : { password: parsed.password }),
    ...(sentinelPassword === undefined ? {} : { sentinelPassword }),
    ...(parsed.tls ? { tls: extra.tls ?? {}, enableTLSForSentinelMode: true } : {}),
    // Not ioredis's failoverDetector: its +switch-master disconnect, landing while the client
    // is already reconnecting after the master died, rejects that connect and ends the client
    // for good ("Connection is closed"; seen in the failover test). A live old master that
    // sentinel demoted answers writes with READONLY instead: reconnect (through the
    // sentinels, to the new master) on that error; the failed command is not resent.
    reconnectOnError: (err: Error) => err.message.startsWith('READONLY'),
    ...SAFE_CLIENT_OPTIONS,
    lazyConnect: true,
  })
}

/**
 * Resolves once `client` is ready. Rejects with the server's or socket's own error
 * (WRONGPASS, ECONNREFUSED, ENOTFOUND, ...), not ioredis' generic "Connection is closed".
 */
export async function connectClient(
  client: Redis | Cluster,
  timeoutMs: number,
  owned: boolean,
): Promise<void> {
  if (client.status === 'ready') return
  if (client.status === 'end' && !owned) throw new Error('the injected ioredis client is closed')
  let lastError: unknown
  const onError = (err: unknown) => {
    lastError = err
  }
  client.on('error', onError)
  let timer: NodeJS.Timeout | undefined
  try {
    const ready =
      client.status === 'wait' || client.status === 'end'
        ? client.connect()
        : new Promise<void>((resolve, reject) => {
            client.once('ready', resolve)
            client.once('end', () => reject(new Error('connection ended')))
          })
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`not ready within ${timeoutMs} ms`)), timeoutMs)
    })
    await Promise.race([ready, timeout])
  } catch (err) {
    throw lastError ?? err
  } finally {
    clearTimeout(timer)
    client.off('error', onError)
  }
}

/** The command client a driver uses, whether it owns it, and how to make its subscriber. */
export interface DriverConnections {
  readonly client: Redis
  /** The same client when it is a Redis Cluster client (commands are routed per slot). */
  readonly cluster: Cluster | undefined
  /**
   * True for Cluster and Sentinel clients: a failover to an asynchronous replica can lose the
   * last writes, fence increments included, so fences are `volatile` whatever the persistence.
   */
  readonly failover: boolean
  readonly ownsClient: boolean
  /** Creates the shared subscriber connection (same server and credentials). */
  readonly createSubscriber: () => Redis
  /** Warnings about an injected client's options. */
  readonly warnings: string[]
}

/** Resolves the `url` / `client` options into connections; throws TypeError on misuse. */
export function driverConnections(options: RedisDriverOptions): DriverConnections {
  if ((options.url === undefined) === (options.client === undefined)) {
    throw new TypeError('RedisDriver needs exactly one of `url` and `client`')
  }
  let client: Redis | Cluster
  const warnings: string[] = []
  if (options.url !== undefined) {
    const timeouts = [options.commandTimeoutMs ?? 2_000, options.connectTimeoutMs ?? 5_000] as const
    client = clientFromUrl(options.url, options.clientOptions ?? {}, ...timeouts)
  } else {
    client = options.client as Redis | Cluster
    if (client instanceof Cluster) {
      if (client.options.keyPrefix || client.options.redisOptions?.keyPrefix) {
        throw new TypeError(
          'RedisDriver: the client must not use keyPrefix (use the `prefix` option)',
        )
      }
      warnings.push(...clusterOptionWarnings(client))
    } else {
      if (!(client instanceof Redis) && typeof (client as Redis)?.defineCommand !== 'function') {
        throw new TypeError('RedisDriver: `client` must be an ioredis Redis or Cluster client')
      }
      if (client.options.keyPrefix) {
        throw new TypeError(
          'RedisDriver: the client must not use keyPrefix (use the `prefix` option)',
        )
      }
      warnings.push(...clientOptionWarnings(client))
    }
  }
  const cluster = client instanceof Cluster ? client : undefined
  // The subscriber queues its SUBSCRIBEs until connected and resubscribes itself (the
  // listener does, then re-checks); it never sends lock commands. On a cluster, PUBLISH
  // reaches every node, so one subscriber on any node sees every release.
  const createSubscriber = (): Redis =>
    cluster !== undefined
      ? (cluster.duplicate([], {
          enableOfflineQueue: true,
          lazyConnect: false,
        }) as unknown as Redis)
      : (client as Redis).duplicate({
          enableOfflineQueue: true,
          autoResubscribe: false,
          lazyConnect: false,
        })
  return {
    client: client as Redis,
    cluster,
    failover: cluster !== undefined || (client as Redis).options.sentinels != null,
    ownsClient: options.ownsClient ?? options.url !== undefined,
    createSubscriber,
    warnings,
  }
}

/** Warnings about an injected Cluster client's options (its node options, as for one server). */
function clusterOptionWarnings(cluster: Cluster): string[] {
  const o = cluster.options
  const node = o.redisOptions ?? {}
  const warnings: string[] = []
  if (o.enableOfflineQueue !== false) {
    warnings.push(
      'the injected ioredis Cluster has enableOfflineQueue on: a lock command issued while disconnected is queued and may run late; create it with enableOfflineQueue: false',
    )
  }
  if (node.autoResendUnfulfilledCommands !== false) {
    warnings.push(
      'the injected ioredis Cluster resends unfulfilled commands after a reconnect; set redisOptions.autoResendUnfulfilledCommands: false',
    )
  }
  if (node.commandTimeout === undefined) {
    warnings.push(
      'the injected ioredis Cluster has no redisOptions.commandTimeout: a hung node stalls lock calls until TCP gives up',
    )
  }
  return warnings
}
