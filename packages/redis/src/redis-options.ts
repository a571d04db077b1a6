import type { Cluster, Redis, RedisOptions } from 'ioredis'

/** Options of a `RedisDriver`: exactly one of `url` and `client`. Frozen at construction. */
export interface RedisDriverOptions {
  /**
   * `redis://[user:password@]host[:port][/db]` or `rediss://...` (TLS); a Redis Cluster as
   * `redis+cluster://[user:password@]host:port,host:port,...` (seed nodes); a Sentinel-managed
   * master as `redis+sentinel://[user:password@]host:port,host:port/<masterName>[/<db>]`
   * (sentinel addresses). The driver creates and owns the client.
   */
  readonly url?: string
  /**
   * An ioredis client to use. Create it with `enableOfflineQueue: false`,
   * `autoResendUnfulfilledCommands: false`, `maxRetriesPerRequest: 0` and a `commandTimeout`
   * (the driver warns otherwise) and without `keyPrefix` (rejected). A `Cluster` client is
   * served too (the same options go in its `redisOptions`, `enableOfflineQueue: false` on it).
   */
  readonly client?: Redis | Cluster
  /** Whether `close()` closes the client. Default: true for `url`, false for `client`. */
  readonly ownsClient?: boolean
  /** First segment of every Redis key and channel the driver uses. Default "baton". */
  readonly prefix?: string
  /** Per-command timeout of a client created from `url`, in ms. Default 2000. */
  readonly commandTimeoutMs?: number
  /** Connect timeout, in ms; also bounds waiting for an injected client to become ready. Default 5000. */
  readonly connectTimeoutMs?: number
  /** Extra ioredis options for clients created from `url` (the safety options above always win). */
  readonly clientOptions?: RedisOptions
  /** How long a key's channel stays subscribed after its last waiter left, in ms. Default 1000. */
  readonly subscriptionLingerMs?: number
  /** Receives each deployment warning found at connect. Default: `process.emitWarning`. */
  readonly onWarning?: (message: string) => void
}
