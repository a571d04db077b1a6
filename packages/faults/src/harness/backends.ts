import { mkdtempSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { type LockDriver, MemoryDriver } from '@baton-lock/core'
import { RedlockDriver } from '@baton-lock/redis'
import {
  type ClusterHandle,
  type EtcdCluster,
  type FaultProxy,
  fourLetterWord,
  harnessTmpdir,
  type ServerHandle,
  startEtcdCluster,
  startMariadb,
  startPostgres,
  startProxy,
  startRedis,
  startRedisNodes,
  startZookeeperEnsemble,
} from '@baton-lock/test-matrix'
import { createDriver } from 'baton-lock'
import { etcdJson, pgRows } from './admin.js'
import type { BackendName, Deployment, Leftover } from './deployment.js'
import { MemoryHost } from './memory-host.js'

/** Clients per scenario. */
export const CLIENTS = 3

/** TTL per backend: the lowest each accepts comfortably (etcd rounds to seconds, ZooKeeper's driver asks for 4 s sessions). */
export const TTL_MS: Record<BackendName, number> = {
  memory: 1_000,
  sqlite: 1_000,
  redis: 1_500,
  postgres: 2_000,
  mysql: 2_000,
  etcd: 2_000,
  zookeeper: 4_000,
  // Twice the RedlockDriver's per-node command timeout (1 s): a round that waits for a silent
  // node still leaves validity.
  redlock: 2_000,
}

export const BACKENDS: readonly BackendName[] = [
  'memory',
  'sqlite',
  'redis',
  'postgres',
  'mysql',
  'etcd',
  'zookeeper',
  'redlock',
]

export interface DeployOptions {
  /** Redis only: run without AOF (fences and keys are lost on a restart: volatile). */
  redisVolatile?: boolean
  /** PostgreSQL only: synchronous_commit off (the test-matrix default; fences volatile on a crash). */
  postgresAsyncCommit?: boolean
  /** Redlock only: nodes without AOF (a restarted node forgets its keys and fence counters). */
  redlockVolatile?: boolean
}

export async function deploy(
  backend: BackendName,
  options: DeployOptions = {},
): Promise<Deployment> {
  switch (backend) {
    case 'memory':
      return memory()
    case 'sqlite':
      return sqlite()
    case 'redis':
      return single(backend, await startRedis({ appendonly: !options.redisVolatile }), options)
    case 'postgres':
      // The documented deployment: synchronous_commit on (the test-matrix default is off, for
      // speed), else a crash can lose the WAL of the last nextval and reissue a fence.
      return single(
        backend,
        await startPostgres({
          settings: { synchronous_commit: options.postgresAsyncCommit ? 'off' : 'on' },
        }),
        options,
      )
    case 'mysql':
      return single(backend, await startMariadb(), options)
    case 'etcd':
      return clustered(backend, await startEtcdCluster(3, { peerProxies: true }))
    case 'zookeeper':
      return clustered(backend, await startZookeeperEnsemble(3, { peerProxies: true }))
    case 'redlock':
      return redlock(await startRedisNodes(3, { appendonly: !options.redlockVolatile }), options)
  }
}

async function capabilitiesOf(url: string) {
  const driver = await createDriver(url)
  try {
    await driver.ready?.()
    return driver.capabilities
  } finally {
    await driver.close()
  }
}

function memory(): Deployment {
  const host = new MemoryHost()
  return {
    backend: 'memory',
    topology: 'in-process store, clients over IPC',
    ttlMs: TTL_MS.memory,
    clientUrl: () => 'memory-bridge:',
    directUrl: 'memory:',
    proxiesOf: () => [],
    memoryHost: host,
    store: { kind: 'file' },
    freesOnDisconnect: false,
    capabilities: host.driver.capabilities,
    driver: async () => new MemoryDriver({ store: host.driver.store }),
    serverLeftovers: async () => [],
    note: 'one MemoryDriver in the harness serves every client process over IPC',
    stop: () => host.close(),
  }
}

async function sqlite(): Promise<Deployment> {
  const dir = mkdtempSync(join(harnessTmpdir(), 'faults-sqlite-'))
  const url = `sqlite:${join(dir, 'locks.db')}`
  return {
    backend: 'sqlite',
    topology: 'one file, clients in separate processes',
    ttlMs: TTL_MS.sqlite,
    clientUrl: () => url,
    directUrl: url,
    proxiesOf: () => [],
    store: { kind: 'file' },
    freesOnDisconnect: false,
    capabilities: await capabilitiesOf(url),
    driver: () => createDriver(url),
    serverLeftovers: async () => [],
    note: 'WAL file on local disk',
    stop: async () => rmSync(dir, { recursive: true, force: true }),
  }
}

async function single(
  backend: 'redis' | 'postgres' | 'mysql',
  server: ServerHandle,
  options: DeployOptions,
): Promise<Deployment> {
  const proxies: FaultProxy[] = []
  try {
    for (let i = 0; i < CLIENTS; i++) proxies.push(await startProxy(server))
    const volatile = backend === 'redis' && options.redisVolatile === true
    return {
      backend,
      topology: '1 server',
      ttlMs: TTL_MS[backend],
      clientUrl: (i) => proxies[i % proxies.length]?.urlFor(server.url) ?? server.url,
      directUrl: server.url,
      proxiesOf: (i) => [proxies[i % proxies.length] as FaultProxy],
      server,
      store: backend === 'postgres' ? { kind: 'postgres', url: server.url } : { kind: 'file' },
      freesOnDisconnect: backend !== 'redis',
      capabilities: await capabilitiesOf(server.url),
      driver: () => createDriver(server.url),
      serverLeftovers: () => singleLeftovers(backend, server.url),
      note:
        backend === 'redis'
          ? volatile
            ? 'no AOF: a restart loses keys and fence counters (fencing volatile)'
            : 'appendonly yes, appendfsync always'
          : backend === 'postgres'
            ? options.postgresAsyncCommit
              ? 'server default synchronous_commit off (the driver sets it on for its lock sessions)'
              : 'synchronous_commit on; the fenced store is a table on the same server'
            : 'MariaDB',
      stop: async () => {
        await Promise.allSettled(proxies.map((p) => p.close()))
        await server.stop()
      },
    }
  } catch (err) {
    await Promise.allSettled(proxies.map((p) => p.close()))
    await server.stop()
    throw err
  }
}

async function singleLeftovers(
  backend: 'redis' | 'postgres' | 'mysql',
  url: string,
): Promise<Leftover[]> {
  if (backend === 'postgres') {
    const [locks] = await pgRows(
      url,
      "SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory'",
    )
    const [sessions] = await pgRows(
      url,
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()",
    )
    return [
      { what: 'advisory locks', count: Number(locks?.n ?? 0) },
      { what: 'client sessions', count: Number(sessions?.n ?? 0) },
    ]
  }
  return []
}

async function clustered(
  backend: 'etcd' | 'zookeeper',
  cluster: ClusterHandle & Partial<Pick<EtcdCluster, 'isolate' | 'heal'>>,
): Promise<Deployment> {
  const scheme = backend === 'etcd' ? 'etcd' : 'zk'
  // Client i reaches every member through a proxy of its own, so one client can be cut off.
  const proxies: FaultProxy[][] = []
  try {
    for (let i = 0; i < CLIENTS; i++) {
      const row: FaultProxy[] = []
      for (const member of cluster.members) row.push(await startProxy(member))
      proxies.push(row)
    }
    const urlOf = (row: FaultProxy[]) =>
      `${scheme}://${row.map((p) => `127.0.0.1:${p.port}`).join(',')}`
    const leader = async (): Promise<ServerHandle> => {
      for (const member of cluster.members) {
        try {
          if (backend === 'etcd') {
            const status = await etcdJson(member.host, member.port, '/v3/maintenance/status')
            const header = status.header as { member_id?: string } | undefined
            if (header?.member_id !== undefined && status.leader === header.member_id) return member
          } else if (
            (await fourLetterWord(member.host, member.port, 'srvr')).includes('Mode: leader')
          ) {
            return member
          }
        } catch {
          // down or not answering: not the leader we can use
        }
      }
      throw new Error(`${backend}: no leader found`)
    }
    return {
      backend,
      topology: `${cluster.members.length} members`,
      ttlMs: TTL_MS[backend],
      clientUrl: (i) => urlOf(proxies[i % proxies.length] as FaultProxy[]),
      directUrl: cluster.url,
      proxiesOf: (i) => proxies[i % proxies.length] as FaultProxy[],
      cluster,
      leader,
      ...(cluster.isolate !== undefined && cluster.heal !== undefined
        ? { isolate: cluster.isolate, healPartition: cluster.heal }
        : {}),
      store: { kind: 'file' },
      freesOnDisconnect: false,
      capabilities: await capabilitiesOf(cluster.url),
      driver: () => createDriver(cluster.url),
      serverLeftovers: () => clusterLeftovers(backend, cluster),
      ...(backend === 'zookeeper' ? { memberViews: (key) => zookeeperViews(cluster, key) } : {}),
      note: `${cluster.members.length} members on loopback`,
      stop: async () => {
        await Promise.allSettled(proxies.flat().map((p) => p.close()))
        await cluster.stop()
      },
    }
  } catch (err) {
    await Promise.allSettled(proxies.flat().map((p) => p.close()))
    await cluster.stop()
    throw err
  }
}

/**
 * Each ZooKeeper member's own answer for `key` (a driver on that member alone, and its mode
 * and last zxid from \`srvr\`): members that agree on the zxid but not on the key's holder
 * have diverged, which no client can cause.
 */
async function zookeeperViews(cluster: ClusterHandle, key: string): Promise<string> {
  const views = await Promise.all(
    cluster.members.map(async (member) => {
      const srvr = await fourLetterWord(member.host, member.port, 'srvr').catch(() => '')
      const mode = /Mode: (\w+)/.exec(srvr)?.[1] ?? 'not serving'
      const zxid = /Zxid: (\w+)/.exec(srvr)?.[1] ?? '?'
      const view = await askMember(`zk://${member.host}:${member.port}`, key)
      return `${member.name} (${mode}, zxid ${zxid}): ${view}`
    }),
  )
  return views.join('; ')
}

/** `inspect(key)` through a driver of its own on `url`, in words; never waits more than about 7 s. */
async function askMember(url: string, key: string): Promise<string> {
  let driver: LockDriver | undefined
  try {
    driver = await createDriver(url)
    const info = await Promise.race([
      driver.inspect?.(key),
      sleep(5_000, 'timeout' as const, { ref: false }),
    ])
    if (info === 'timeout') return 'no answer in 5 s'
    return info === null || info === undefined
      ? 'free'
      : `held, fence ${String(info.fence)}, ${info.holders} holder(s)`
  } catch (err) {
    return `failed (${err instanceof Error ? err.message : String(err)})`
  } finally {
    await Promise.race([driver?.close(), sleep(2_000, undefined, { ref: false })]).catch(() => {})
  }
}

async function clusterLeftovers(
  backend: 'etcd' | 'zookeeper',
  cluster: ClusterHandle,
): Promise<Leftover[]> {
  for (const member of cluster.members) {
    try {
      if (backend === 'etcd') {
        const reply = await etcdJson(member.host, member.port, '/v3/lease/leases')
        return [{ what: 'etcd leases', count: ((reply.leases as unknown[]) ?? []).length }]
      }
      const mntr = await fourLetterWord(member.host, member.port, 'mntr')
      const ephemerals = /zk_ephemerals_count\s+(\d+)/.exec(mntr)?.[1]
      if (ephemerals === undefined) continue
      return [{ what: 'ephemeral znodes', count: Number(ephemerals) }]
    } catch {
      // try the next member
    }
  }
  return [{ what: `${backend}: no member answered`, count: 1 }]
}

/**
 * Redlock: 3 independent redis-server nodes (no replication), a majority grants. Client i
 * reaches every node through a proxy of its own, so one client's link to one node (a
 * minority) or to all of them can fail alone.
 */
async function redlock(nodes: ClusterHandle, options: DeployOptions): Promise<Deployment> {
  const proxies: FaultProxy[][] = []
  try {
    for (let i = 0; i < CLIENTS; i++) {
      const row: FaultProxy[] = []
      for (const member of nodes.members) row.push(await startProxy(member))
      proxies.push(row)
    }
    const urlOf = (hosts: { host: string; port: number }[]) =>
      `redlock://${hosts.map((h) => `${h.host}:${h.port}`).join(',')}`
    const direct = urlOf([...nodes.members])
    return {
      backend: 'redlock',
      topology: `${nodes.members.length} independent nodes (Redlock, majority ${Math.floor(nodes.members.length / 2) + 1})`,
      ttlMs: TTL_MS.redlock,
      clientUrl: (i) =>
        urlOf(
          (proxies[i % proxies.length] as FaultProxy[]).map((p) => ({
            host: '127.0.0.1',
            port: p.port,
          })),
        ),
      directUrl: direct,
      proxiesOf: (i) => proxies[i % proxies.length] as FaultProxy[],
      cluster: nodes,
      quorum: true,
      store: { kind: 'file' },
      freesOnDisconnect: false,
      capabilities: await capabilitiesOf(direct),
      driver: () => createDriver(direct),
      serverLeftovers: () => redlockLeftovers(direct),
      note: options.redlockVolatile
        ? 'no AOF: a restarted node forgets its keys and fence counters (fencing volatile)'
        : 'every node appendonly yes, appendfsync always (fencing durable)',
      stop: async () => {
        await Promise.allSettled(proxies.flat().map((p) => p.close()))
        await nodes.stop()
      },
    }
  } catch (err) {
    await Promise.allSettled(proxies.flat().map((p) => p.close()))
    await nodes.stop()
    throw err
  }
}

/** Lock keys on any node, with any owner: a minority leftover that `inspect` does not report counts too. */
async function redlockLeftovers(url: string): Promise<Leftover[]> {
  const driver = await RedlockDriver.connect({ url, onWarning: () => undefined })
  try {
    let count = 0
    const found: string[] = []
    for (const client of driver.clients) {
      let cursor = '0'
      for (let pages = 0; pages < 100; pages++) {
        const [next, keys] = await client.scan(cursor, 'MATCH', 'baton:{*}:lock', 'COUNT', 1000)
        count += keys.length
        found.push(...keys.slice(0, 3))
        cursor = next
        if (cursor === '0') break
      }
    }
    return [{ what: 'lock keys on any node', count, detail: found.slice(0, 3).join(', ') }]
  } finally {
    await driver.close()
  }
}
