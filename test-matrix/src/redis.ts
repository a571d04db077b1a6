import { requireBinary } from './binaries.js'
import { clusterOf, startAll } from './cluster-handle.js'
import { dockerAvailable, startContainer } from './docker-server.js'
import { redisContainer, redisPersistenceArgs } from './docker-specs.js'
import { externalServer, externalUrl } from './external-server.js'
import { freePort } from './free-port.js'
import { NativeServer } from './native-server.js'
import { redisReady } from './probes.js'
import { makeServerDir } from './server-dir.js'
import type { ClusterHandle, ServerHandle } from './server-handle.js'
import { startWithPortRetry } from './server-start-error.js'

export interface RedisOptions {
  /** Sets `requirepass`; the URL then carries it: redis://:PASSWORD@127.0.0.1:P. */
  password?: string
  /** `appendonly yes` with `appendfsync always`: data and fence counters survive `restart()` and `kill()`. */
  appendonly?: boolean
  /** Extra `redis-server` arguments, e.g. ['--maxmemory-policy', 'allkeys-lru']. */
  args?: string[]
  /** Name shown in logs and errors. */
  name?: string
  startTimeoutMs?: number
}

/** A Redis server on a free loopback port in its own temp directory (or BATON_REDIS_URL). */
export async function startRedis(options: RedisOptions = {}): Promise<ServerHandle> {
  const url = externalUrl('redis')
  if (url) return externalServer('redis', url)
  if (await dockerAvailable()) return startContainer(redisContainer(options))
  const binary = requireBinary('redis-server', 'redis')
  return startWithPortRetry(async () => {
    const host = '127.0.0.1'
    const port = await freePort()
    const dir = await makeServerDir('redis')
    const auth = options.password === undefined ? '' : `:${encodeURIComponent(options.password)}@`
    const server = new NativeServer({
      name: options.name ?? 'redis',
      host,
      port,
      url: `redis://${auth}${host}:${port}`,
      dir,
      startTimeoutMs: options.startTimeoutMs ?? 15_000,
      probe: () => redisReady(host, port, options.password),
      spec: () => ({
        command: binary,
        args: [
          '--port',
          String(port),
          '--bind',
          host,
          '--dir',
          dir,
          '--daemonize',
          'no',
          '--protected-mode',
          'no',
          '--logfile',
          '',
          ...redisPersistenceArgs(options),
        ],
      }),
    })
    try {
      await server.start()
    } catch (error) {
      await server.stop()
      throw error
    }
    return server
  })
}

/** `count` independent Redis servers (no replication), for quorum-mode (Redlock-style) tests. */
export async function startRedisNodes(
  count: number,
  options: RedisOptions = {},
): Promise<ClusterHandle> {
  const urls = process.env.BATON_REDIS_NODE_URLS?.split(',')
    .map((u) => u.trim())
    .filter(Boolean)
  if (urls?.length) {
    return clusterOf(
      'redis-nodes',
      urls.slice(0, count).map((u) => externalServer('redis', u)),
      urls.join(','),
    )
  }
  const members = await startAll(
    Array.from({ length: count }, (_, i) => () => startRedis({ ...options, name: `redis-${i}` })),
  )
  return clusterOf('redis-nodes', members, members.map((m) => m.url).join(','))
}
