import { Redis, type RedisOptions } from 'ioredis'

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
