import { Redis, type RedisOptions } from 'ioredis'
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
): Redis {
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
 * Resolves once `client` is ready. Rejects with the server's or socket's own error
 * (WRONGPASS, ECONNREFUSED, ENOTFOUND, ...), not ioredis' generic "Connection is closed".
 */
export async function connectClient(
  client: Redis,
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
  let client: Redis
  const warnings: string[] = []
  if (options.url !== undefined) {
    const timeouts = [options.commandTimeoutMs ?? 2_000, options.connectTimeoutMs ?? 5_000] as const
    client = clientFromUrl(options.url, options.clientOptions ?? {}, ...timeouts)
  } else {
    client = options.client as Redis
    if (client.options.keyPrefix) {
      throw new TypeError(
        'RedisDriver: the client must not use keyPrefix (use the `prefix` option)',
      )
    }
    warnings.push(...clientOptionWarnings(client))
  }
  // The subscriber queues its SUBSCRIBEs until connected and resubscribes itself (the
  // listener does, then re-checks); it never sends lock commands.
  const createSubscriber = () =>
    client.duplicate({ enableOfflineQueue: true, autoResubscribe: false, lazyConnect: false })
  return {
    client,
    ownsClient: options.ownsClient ?? options.url !== undefined,
    createSubscriber,
    warnings,
  }
}
