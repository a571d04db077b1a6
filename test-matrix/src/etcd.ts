import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { requireBinary } from './binaries.js'
import { clusterOf } from './cluster-handle.js'
import { dockerAvailable, startContainer } from './docker-server.js'
import { etcdContainer } from './docker-specs.js'
import { externalServer, externalUrl } from './external-server.js'
import { freePorts } from './free-port.js'
import { NativeServer } from './native-server.js'
import { PeerLinks, partitionable } from './peer-links.js'
import { etcdReady } from './probes.js'
import { makeServerDir } from './server-dir.js'
import { type ClusterHandle, ExternalServerError, type ServerHandle } from './server-handle.js'
import { ServerStartError } from './server-start-error.js'

export interface EtcdOptions {
  /** Raft heartbeat; etcd's default is 100 ms. */
  heartbeatIntervalMs?: number
  /** Raft election timeout; etcd's default is 1000 ms. A killed leader is replaced after about this long. */
  electionTimeoutMs?: number
  startTimeoutMs?: number
  /**
   * Cluster only: members reach each other through one proxy per member (the advertised
   * peer URL), so that `isolate(i)` can cut member i off from the others.
   */
  peerProxies?: boolean
}

/** An etcd cluster; with `peerProxies`, members can be cut off from each other. */
export interface EtcdCluster extends ClusterHandle {
  /**
   * Cuts member `index` off from every other member, both directions (open peer connections
   * are destroyed, new ones reset at once); its clients still reach it. Needs `peerProxies`.
   */
  isolate(index: number): void
  /** Ends every isolation (members reconnect on their own). */
  heal(): void
}

interface Member {
  name: string
  clientPort: number
  peerPort: number
}

const host = '127.0.0.1'

/** One etcd member on free loopback ports (or BATON_ETCD_URL); url `etcd://127.0.0.1:P`. */
export async function startEtcd(options: EtcdOptions = {}): Promise<ServerHandle> {
  const url = externalUrl('etcd')
  if (url) return externalServer('etcd', url)
  if (await dockerAvailable()) return startContainer(etcdContainer())
  const cluster = await startMembers(1, options, 'etcd')
  const [member] = cluster.members
  if (!member) throw new Error('etcd did not start')
  return member
}

/**
 * An etcd cluster of `size` members (3 by default) on free loopback ports (or BATON_ETCD_URL
 * listing several hosts); url `etcd://127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3`.
 */
export async function startEtcdCluster(size = 3, options: EtcdOptions = {}): Promise<EtcdCluster> {
  const url = externalUrl('etcd')
  if (url) {
    const hosts = url.replace(/^etcd:\/\//, '').split(',')
    const members = hosts.map((h) => externalServer('etcd', `etcd://${h}`))
    const external = () => {
      throw new ExternalServerError('etcd cluster from BATON_ETCD_URL: the harness cannot cut it')
    }
    return { ...clusterOf('etcd-cluster', members, url), isolate: external, heal: external }
  }
  return startMembers(size, options, 'etcd-cluster')
}

async function startMembers(
  size: number,
  options: EtcdOptions,
  name: string,
): Promise<EtcdCluster> {
  const etcd = requireBinary('etcd', 'etcd')
  const links = options.peerProxies === true ? new PeerLinks() : undefined
  try {
    return await startMembersOnce(etcd, size, options, name, links)
  } catch (err) {
    await links?.close()
    throw err
  }
}

async function startMembersOnce(
  etcd: string,
  size: number,
  options: EtcdOptions,
  name: string,
  links: PeerLinks | undefined,
): Promise<EtcdCluster> {
  for (let attempt = 1; ; attempt++) {
    const ports = await freePorts(size * 2)
    const members: Member[] = Array.from({ length: size }, (_, i) => ({
      name: size === 1 ? 'etcd' : `etcd-${i}`,
      clientPort: ports[i * 2] ?? 0,
      peerPort: ports[i * 2 + 1] ?? 0,
    }))
    // With peer proxies, members advertise (and dial) the proxy of each peer.
    const advertised = links
      ? await Promise.all(members.map((m, i) => links.listen(i, m.peerPort)))
      : members.map((m) => m.peerPort)
    const initialCluster = members
      .map((m, i) => `${m.name}=http://${host}:${advertised[i]}`)
      .join(',')
    const token = randomBytes(8).toString('hex')
    const servers = await Promise.all(
      members.map(async (member, i) => {
        const dir = await makeServerDir('etcd')
        return new NativeServer({
          name: member.name,
          host,
          port: member.clientPort,
          url: `etcd://${host}:${member.clientPort}`,
          dir,
          startTimeoutMs: options.startTimeoutMs ?? 30_000,
          probe: () => etcdReady(host, member.clientPort),
          spec: () => ({
            command: etcd,
            args: [
              `--name=${member.name}`,
              `--data-dir=${join(dir, 'data')}`,
              `--listen-client-urls=http://${host}:${member.clientPort}`,
              `--advertise-client-urls=http://${host}:${member.clientPort}`,
              `--listen-peer-urls=http://${host}:${member.peerPort}`,
              `--initial-advertise-peer-urls=http://${host}:${advertised[i]}`,
              `--initial-cluster=${initialCluster}`,
              `--initial-cluster-token=${token}`,
              '--initial-cluster-state=new',
              `--heartbeat-interval=${options.heartbeatIntervalMs ?? 100}`,
              `--election-timeout=${options.electionTimeoutMs ?? 1000}`,
              '--logger=zap',
              '--log-outputs=stderr',
              '--log-level=info',
            ],
          }),
        })
      }),
    )
    if (links) links.servers = servers
    // Members only report healthy once they elected a leader together: start them at once.
    const results = await Promise.allSettled(servers.map((s) => s.start()))
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
    if (!failed) {
      const url = `etcd://${servers.map((s) => `${host}:${s.port}`).join(',')}`
      return partitionable(clusterOf(name, servers, url), links, 'etcd cluster')
    }
    await Promise.allSettled(servers.map((s) => s.stop()))
    await links?.close()
    const retry = failed.reason instanceof ServerStartError && failed.reason.portInUse
    if (!retry || attempt >= 3) throw failed.reason
  }
}
