import { existsSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { requireBinary } from './binaries.js'
import { clusterOf } from './cluster-handle.js'
import { dockerAvailable, startContainer } from './docker-server.js'
import { zookeeperContainer } from './docker-specs.js'
import { externalServer, externalUrl } from './external-server.js'
import { freePorts } from './free-port.js'
import { NativeServer } from './native-server.js'
import { PeerLinks, partitionable } from './peer-links.js'
import { zookeeperReady } from './probes.js'
import { makeServerDir } from './server-dir.js'
import type { ClusterHandle, ServerHandle } from './server-handle.js'
import { ServerStartError } from './server-start-error.js'

export interface ZookeeperOptions {
  /** ZooKeeper's tick; session timeouts are negotiated between 2 and 20 ticks unless set below. */
  tickTimeMs?: number
  /** Lowest session timeout the server grants (default 500 ms, so tests can use short TTLs). */
  minSessionTimeoutMs?: number
  /** Highest session timeout the server grants (default 60 s). */
  maxSessionTimeoutMs?: number
  /** How often the server deletes empty CONTAINER nodes (`znode.container.checkIntervalMs`; ZooKeeper's default 60 s). */
  containerCheckIntervalMs?: number
  startTimeoutMs?: number
  /**
   * Ensemble only: each server reaches each peer's quorum and election ports through
   * proxies of its own (its zoo.cfg lists them), so that `isolate(i)` can cut server i off
   * from the others while clients still reach it.
   */
  peerProxies?: boolean
}

/** A ZooKeeper ensemble; with `peerProxies`, servers can be cut off from each other. */
export interface ZookeeperEnsemble extends ClusterHandle {
  /** Cuts server `index` off from the other servers (peer links only). Needs `peerProxies`. */
  isolate(index: number): void
  /** Undoes `isolate`. */
  heal(): void
}

const host = '127.0.0.1'

// Debian's zookeeper package; BATON_ZOOKEEPER_CLASSPATH overrides (e.g. a tarball's lib/*).
const DEBIAN_CLASSPATH = [
  '/usr/share/java/zookeeper.jar',
  '/usr/share/java/slf4j-log4j12.jar',
  '/usr/share/java/log4j-1.2.jar',
]

function classpath(): string {
  const override = process.env.BATON_ZOOKEEPER_CLASSPATH
  if (override) return override
  if (!existsSync(DEBIAN_CLASSPATH[0] ?? '')) {
    throw new Error(
      'ZooKeeper not found (/usr/share/java/zookeeper.jar). Install the test servers with ' +
        '`sudo bash test-matrix/install-servers.sh`, set BATON_ZOOKEEPER_CLASSPATH, or point the ' +
        'tests at a running server with BATON_ZOOKEEPER_URL.',
    )
  }
  return DEBIAN_CLASSPATH.filter((jar) => existsSync(jar)).join(':')
}

const LOG4J = `log4j.rootLogger=INFO, CONSOLE
log4j.appender.CONSOLE=org.apache.log4j.ConsoleAppender
log4j.appender.CONSOLE.layout=org.apache.log4j.PatternLayout
log4j.appender.CONSOLE.layout.ConversionPattern=%d{ISO8601} %-5p [%t] %c{1} - %m%n
`

/** A standalone ZooKeeper server on a free loopback port (or BATON_ZOOKEEPER_URL); url `zk://127.0.0.1:P`. */
export async function startZookeeper(options: ZookeeperOptions = {}): Promise<ServerHandle> {
  const url = externalUrl('zookeeper')
  if (url) return externalServer('zookeeper', url)
  if (await dockerAvailable()) return startContainer(zookeeperContainer())
  const ensemble = await startServers(1, options, 'zookeeper')
  const [member] = ensemble.members
  if (!member) throw new Error('zookeeper did not start')
  return member
}

/** A ZooKeeper ensemble of `size` servers (3 by default); url `zk://127.0.0.1:P1,127.0.0.1:P2,...`. */
export async function startZookeeperEnsemble(
  size = 3,
  options: ZookeeperOptions = {},
): Promise<ZookeeperEnsemble> {
  const url = externalUrl('zookeeper')
  if (url) {
    const hosts = url
      .replace(/^zk:\/\//, '')
      .replace(/\/.*$/, '')
      .split(',')
    const external = () => {
      throw new Error('an external ZooKeeper ensemble cannot be partitioned')
    }
    return {
      ...clusterOf(
        'zookeeper-ensemble',
        hosts.map((h) => externalServer('zookeeper', `zk://${h}`)),
        url,
      ),
      isolate: external,
      heal: external,
    }
  }
  const links = options.peerProxies === true && size > 1 ? new PeerLinks() : undefined
  try {
    const handle = await startServers(size, options, 'zookeeper-ensemble', links)
    return partitionable(handle, links, 'ZooKeeper ensemble')
  } catch (err) {
    await links?.close()
    throw err
  }
}

async function startServers(
  size: number,
  options: ZookeeperOptions,
  name: string,
  links?: PeerLinks,
): Promise<ClusterHandle> {
  const java = requireBinary('java', 'zookeeper')
  const cp = classpath()
  const tickTimeMs = options.tickTimeMs ?? 250
  for (let attempt = 1; ; attempt++) {
    const ports = await freePorts(size * 3)
    const port = (i: number, which: number) => ports[i * 3 + which] ?? 0
    // With peer proxies, server i dials peer j's quorum (1) and election (2) ports through
    // proxies of its own (each server's zoo.cfg is its own), so each proxy knows its dialer.
    const proxied = new Map<string, number>()
    if (links)
      for (let i = 0; i < size; i++)
        for (let j = 0; j < size; j++)
          for (const which of [1, 2] as const)
            if (i !== j) proxied.set(`${i}:${j}:${which}`, await links.listen(j, port(j, which), i))
    const peerPort = (i: number, j: number, which: 1 | 2) =>
      proxied.get(`${i}:${j}:${which}`) ?? port(j, which)
    const servers = await Promise.all(
      Array.from({ length: size }, async (_, i) => {
        const dir = await makeServerDir('zookeeper')
        const data = join(dir, 'data')
        await mkdir(data)
        await writeFile(join(data, 'myid'), `${i + 1}\n`)
        await writeFile(join(dir, 'log4j.properties'), LOG4J)
        const config = [
          `tickTime=${tickTimeMs}`,
          'initLimit=40',
          'syncLimit=20',
          `dataDir=${data}`,
          // Like the PostgreSQL (fsync=off) and MariaDB (flush at commit 0) test servers: the
          // transaction log is written but not fsynced, so a write's reply does not wait on a
          // disk that other tests' servers share. A kill -9 keeps what was written (the page
          // cache outlives the process); only a host crash would lose it.
          'forceSync=no',
          `clientPort=${port(i, 0)}`,
          `clientPortAddress=${host}`,
          `minSessionTimeout=${options.minSessionTimeoutMs ?? 500}`,
          `maxSessionTimeout=${options.maxSessionTimeoutMs ?? 60_000}`,
          'admin.enableServer=false', // its default port is 8080
          '4lw.commands.whitelist=srvr,ruok,mntr,stat',
          ...(size === 1
            ? []
            : Array.from(
                { length: size },
                (_, j) => `server.${j + 1}=${host}:${peerPort(i, j, 1)}:${peerPort(i, j, 2)}`,
              )),
          '',
        ].join('\n')
        await writeFile(join(dir, 'zoo.cfg'), config)
        const serverName = size === 1 ? 'zookeeper' : `zookeeper-${i + 1}`
        return new NativeServer({
          name: serverName,
          host,
          port: port(i, 0),
          url: `zk://${host}:${port(i, 0)}`,
          dir,
          startTimeoutMs: options.startTimeoutMs ?? 60_000,
          probe: () => zookeeperReady(host, port(i, 0)),
          spec: () => ({
            command: java,
            args: [
              '-Xms32m',
              '-Xmx192m',
              '-XX:+UseSerialGC',
              '-XX:TieredStopAtLevel=1',
              '-XX:-UsePerfData', // no hsperfdata files left in /tmp
              '-Djava.net.preferIPv4Stack=true',
              '-Dzookeeper.jmx.log4j.disable=true',
              // A member whose election gets no answer re-sends its votes after a back-off
              // that doubles from 200 ms up to 60 s, so a member that spent some seconds
              // unable to reach a quorum can wait most of a minute before it tries again
              // once it could (seen once under load: a majority that had not elected 60 s
              // after its leader was cut off). A 2 s cap keeps retries frequent; it changes
              // when votes are re-sent, not how they are counted.
              '-Dzookeeper.fastleader.maxNotificationInterval=2000',
              ...(options.containerCheckIntervalMs === undefined
                ? []
                : [`-Dznode.container.checkIntervalMs=${options.containerCheckIntervalMs}`]),
              '-cp',
              `${dir}:${cp}`,
              'org.apache.zookeeper.server.quorum.QuorumPeerMain',
              join(dir, 'zoo.cfg'),
            ],
          }),
        })
      }),
    )
    if (links) links.servers = servers
    // Ensemble members serve only once a quorum formed: start them together.
    const results = await Promise.allSettled(servers.map((s) => s.start()))
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
    if (!failed)
      return clusterOf(name, servers, `zk://${servers.map((s) => `${host}:${s.port}`).join(',')}`)
    await Promise.allSettled(servers.map((s) => s.stop()))
    await links?.close()
    const retry = failed.reason instanceof ServerStartError && failed.reason.portInUse
    if (!retry || attempt >= 3) throw failed.reason
  }
}
