import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { requireBinary } from './binaries.js'
import { clusterOf, startAll } from './cluster-handle.js'
import { dockerAvailable, startContainer } from './docker-server.js'
import { redisContainer, redisPersistenceArgs } from './docker-specs.js'
import { externalServer, externalUrl } from './external-server.js'
import { freePort } from './free-port.js'
import { NativeServer } from './native-server.js'
import { redisReady } from './probes.js'
import { runCommand } from './run-command.js'
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
  return startNativeRedis(options, () => [])
}

/**
 * One native redis-server (or `redis-server --sentinel` when `sentinel` is set) on a free
 * loopback port; `extraArgs(port, dir)` adds arguments (cluster bus port, replicaof, ...).
 */
async function startNativeRedis(
  options: RedisOptions,
  extraArgs: (port: number, dir: string) => string[],
  sentinelConf?: (port: number) => string,
): Promise<NativeServer> {
  const binary = requireBinary('redis-server', 'redis')
  return startWithPortRetry(async () => {
    const host = '127.0.0.1'
    const port = await freePort()
    const dir = await makeServerDir('redis')
    const auth = options.password === undefined ? '' : `:${encodeURIComponent(options.password)}@`
    const extra = extraArgs(port, dir)
    const server = new NativeServer({
      name: options.name ?? 'redis',
      host,
      port,
      url: `redis://${auth}${host}:${port}`,
      dir,
      startTimeoutMs: options.startTimeoutMs ?? 15_000,
      probe: () => redisReady(host, port, options.password),
      spec: () => {
        const common = ['--port', String(port), '--bind', host, '--dir', dir, '--daemonize', 'no']
        if (sentinelConf !== undefined) {
          // Sentinel rewrites its config file: write it once, keep it across restarts.
          const conf = join(dir, 'sentinel.conf')
          if (!existsSync(conf)) writeFileSync(conf, sentinelConf(port))
          return { command: binary, args: [conf, '--sentinel', ...common, '--logfile', ''] }
        }
        return {
          command: binary,
          args: [
            ...common,
            '--protected-mode',
            'no',
            '--logfile',
            '',
            ...redisPersistenceArgs(options),
            ...extra,
          ],
        }
      },
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

/** A loopback Redis Cluster: masters first, then their replicas (one per master, if asked). */
export interface RedisClusterHandle extends ClusterHandle {
  /** `redis+cluster://h:p,h:p,...`: every member as a seed. */
  readonly url: string
  /** Seed nodes for ioredis `new Cluster(seeds)`. */
  readonly seeds: ReadonlyArray<{ host: string; port: number }>
  /** Runs redis-cli against one member (e.g. `['cluster', 'nodes']`) and returns its output. */
  cli(member: ServerHandle, ...args: string[]): Promise<string>
  /** Resolves when every running member reports `cluster_state:ok` and agrees on `masters` masters. */
  waitHealthy(timeoutMs?: number): Promise<void>
}

export interface RedisClusterOptions extends RedisOptions {
  /** Number of masters (at least 3). Default 3. */
  masters?: number
  /** Replicas per master. Default 1. */
  replicas?: number
  /** `cluster-node-timeout` in ms: how long until a silent master is failed over. Default 1000. */
  nodeTimeoutMs?: number
}

/** Starts `masters x (1 + replicas)` cluster-enabled servers and joins them with `redis-cli --cluster create`. */
export async function startRedisCluster(
  options: RedisClusterOptions = {},
): Promise<RedisClusterHandle> {
  const masters = options.masters ?? 3
  const replicas = options.replicas ?? 1
  if (masters < 3) throw new Error('a Redis Cluster needs at least 3 masters')
  const cli = requireBinary('redis-cli', 'redis')
  const nodeTimeoutMs = options.nodeTimeoutMs ?? 1_000
  const count = masters * (1 + replicas)
  const members = await startAll(
    Array.from({ length: count }, (_, i) => async () => {
      const busPort = await freePort()
      return startNativeRedis({ ...options, name: `redis-cluster-${i}` }, () => [
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        'nodes.conf',
        '--cluster-port',
        String(busPort),
        '--cluster-node-timeout',
        String(nodeTimeoutMs),
        // a replica takes over however long it was cut off from its master (tests kill masters)
        '--cluster-replica-validity-factor',
        '0',
      ])
    }),
  )
  const auth = options.password === undefined ? [] : ['-a', options.password, '--no-auth-warning']
  const runCli = (member: ServerHandle, ...args: string[]) =>
    runCommand(cli, ['-h', member.host, '-p', String(member.port), ...auth, ...args], {
      timeoutMs: 30_000,
    })
  const handle = clusterOf(
    'redis-cluster',
    members,
    `redis+cluster://${members.map((m) => `${m.host}:${m.port}`).join(',')}`,
  )
  const waitHealthy = async (timeoutMs = 30_000) => {
    const deadline = performance.now() + timeoutMs
    let last = ''
    while (performance.now() < deadline) {
      const states = await Promise.all(
        members.map((m) =>
          runCli(m, 'cluster', 'info').then(
            (text) => text,
            () => 'cluster_state:down-unreachable',
          ),
        ),
      )
      // a killed member reports unreachable: only running members must agree
      const running = states.filter((t) => !t.includes('unreachable'))
      const ok = running.every(
        (t) => t.includes('cluster_state:ok') && t.includes(`cluster_size:${masters}`),
      )
      if (running.length > 0 && ok) return
      last = states.join('\n')
      await sleep(100)
    }
    throw new Error(`redis cluster not healthy within ${timeoutMs} ms:\n${last.slice(-2000)}`)
  }
  try {
    await runCommand(
      cli,
      [
        ...auth,
        '--cluster',
        'create',
        ...members.map((m) => `${m.host}:${m.port}`),
        '--cluster-replicas',
        String(replicas),
        '--cluster-yes',
      ],
      { timeoutMs: 60_000 },
    )
    await waitHealthy()
  } catch (error) {
    await handle.stop()
    throw error
  }
  return {
    ...handle,
    seeds: members.map((m) => ({ host: m.host, port: m.port })),
    cli: runCli,
    waitHealthy,
  }
}

/** A loopback Sentinel deployment: one master, its replicas, and sentinels watching them. */
export interface RedisSentinelHandle extends ClusterHandle {
  /** `redis+sentinel://h:p,h:p,h:p/<masterName>` naming the sentinels. */
  readonly url: string
  readonly masterName: string
  /** The data servers: [initial master, ...replicas]. */
  readonly servers: readonly ServerHandle[]
  readonly sentinels: readonly ServerHandle[]
  /** The address the sentinels currently name as master. */
  currentMaster(): Promise<{ host: string; port: number }>
  /** Waits until the sentinels agree on a master other than `port` (bounded). */
  waitForFailover(fromPort: number, timeoutMs?: number): Promise<{ host: string; port: number }>
}

export interface RedisSentinelOptions extends RedisOptions {
  /** Replicas of the master. Default 1. */
  replicas?: number
  /** Number of sentinels (quorum: a majority). Default 3. */
  sentinels?: number
  /** `down-after-milliseconds`. Default 1000. */
  downAfterMs?: number
  masterName?: string
}

/** Starts a master, its replicas and `sentinels` redis-sentinel processes on loopback. */
export async function startRedisSentinel(
  options: RedisSentinelOptions = {},
): Promise<RedisSentinelHandle> {
  if (options.password !== undefined) throw new Error('startRedisSentinel: no password support')
  const masterName = options.masterName ?? 'baton'
  const cli = requireBinary('redis-cli', 'redis')
  const count = options.sentinels ?? 3
  const quorum = Math.floor(count / 2) + 1
  const downAfterMs = options.downAfterMs ?? 1_000
  const started: ServerHandle[] = []
  const runCli = (port: number, ...args: string[]) =>
    runCommand(cli, ['-h', '127.0.0.1', '-p', String(port), ...args], { timeoutMs: 10_000 })
  try {
    const master = await startNativeRedis({ ...options, name: 'redis-master' }, () => [])
    started.push(master)
    const replicas = await startAll(
      Array.from(
        { length: options.replicas ?? 1 },
        (_, i) => () =>
          startNativeRedis({ ...options, name: `redis-replica-${i}` }, () => [
            '--replicaof',
            master.host,
            String(master.port),
          ]),
      ),
    )
    started.push(...replicas)
    const sentinels = await startAll(
      Array.from(
        { length: count },
        (_, i) => () =>
          startNativeRedis(
            { name: `redis-sentinel-${i}` },
            () => [],
            (port) =>
              [
                `port ${port}`,
                'bind 127.0.0.1',
                'protected-mode no',
                `sentinel monitor ${masterName} ${master.host} ${master.port} ${quorum}`,
                `sentinel down-after-milliseconds ${masterName} ${downAfterMs}`,
                `sentinel failover-timeout ${masterName} ${Math.max(3_000, downAfterMs * 3)}`,
                `sentinel parallel-syncs ${masterName} 1`,
                '',
              ].join('\n'),
          ),
      ),
    )
    started.push(...sentinels)
    const servers = [master, ...replicas]
    const handle = clusterOf(
      'redis-sentinel',
      started,
      `redis+sentinel://${sentinels.map((s) => `${s.host}:${s.port}`).join(',')}/${masterName}`,
    )
    const currentMaster = async () => {
      const reply = await runCli(
        (sentinels[0] as ServerHandle).port,
        'sentinel',
        'get-master-addr-by-name',
        masterName,
      )
      const [host, port] = reply.trim().split(/\s+/)
      return { host: host ?? '', port: Number(port) }
    }
    // Bounded start: every sentinel sees the replicas and the other sentinels.
    const deadline = performance.now() + 30_000
    for (;;) {
      const views = await Promise.all(
        sentinels.map(async (s) => {
          const master = await runCli(s.port, 'sentinel', 'master', masterName).catch(() => '')
          const fields = master.split('\n').map((l) => l.trim())
          const field = (name: string) => Number(fields[fields.indexOf(name) + 1] ?? 0)
          return field('num-slaves') >= replicas.length && field('num-other-sentinels') >= count - 1
        }),
      )
      if (views.every(Boolean)) break
      if (performance.now() > deadline) {
        await handle.stop()
        throw new Error(
          `redis sentinels did not discover each other in 30 s:\n${handle.logs().slice(-3000)}`,
        )
      }
      await sleep(200)
    }
    return {
      ...handle,
      masterName,
      servers,
      sentinels,
      currentMaster,
      async waitForFailover(fromPort, timeoutMs = 30_000) {
        const until = performance.now() + timeoutMs
        for (;;) {
          const now = await currentMaster().catch(() => ({ host: '', port: fromPort }))
          if (now.port !== fromPort && now.port > 0) {
            // the promoted server must accept writes
            const role = await runCli(now.port, 'role').catch(() => '')
            if (role.startsWith('master')) return now
          }
          if (performance.now() > until)
            throw new Error(`no sentinel failover within ${timeoutMs} ms`)
          await sleep(100)
        }
      },
    }
  } catch (error) {
    await Promise.allSettled(started.map((s) => s.stop()))
    throw error
  }
}
