import type { BackendTarget } from '../lock-client.js'
import {
  CountingProxy,
  FlightCounter,
  PgMessageCounter,
  RespCounter,
  type RoundTripCounter,
} from './counting-proxy.js'

/**
 * Counters for the scale scenario: where the driver must connect (`target`, a counting
 * proxy), how many round trips it has made so far, and how many sessions it has open.
 */
export interface RoundTripProbe {
  readonly target: BackendTarget
  roundTrips(): Promise<number>
  sessions(): Promise<number>
  /** Sessions (connections) ever opened through the probe. */
  sessionsOpened(): Promise<number>
  /** Script calls so far, where the probe parses commands (Redis). */
  scripts?(): Promise<number>
  close(): Promise<void>
}

export async function proxiedProbe(
  target: BackendTarget,
  defaultPort: number,
  makeCounter: () => RoundTripCounter,
  countsScripts = false,
): Promise<RoundTripProbe> {
  const upstream = new URL(target.url)
  const proxy = await CountingProxy.start(
    upstream.hostname,
    Number(upstream.port || defaultPort),
    makeCounter,
  )
  const proxied = new URL(target.url)
  proxied.hostname = '127.0.0.1'
  proxied.port = String(proxy.port)
  return {
    target: { url: proxied.href },
    roundTrips: async () => proxy.roundTrips(),
    sessions: async () => proxy.sessions(),
    sessionsOpened: async () => proxy.sessionsOpened(),
    ...(countsScripts ? { scripts: async () => proxy.scripts() } : {}),
    close: () => proxy.close(),
  }
}

/** Redis: request bursts per connection (a pipeline or one script call is one round trip), and script calls. */
export function redisProbe(target: BackendTarget): Promise<RoundTripProbe> {
  return proxiedProbe(target, 6379, () => new RespCounter(), true)
}

/** MySQL/MariaDB: request bursts per connection (the protocol is strictly request/response). */
export function mysqlProbe(target: BackendTarget): Promise<RoundTripProbe> {
  return proxiedProbe(target, 3306, () => new FlightCounter())
}

/**
 * ZooKeeper: request bursts per session (pings, every third of the session timeout, count
 * too). The URL is `zk://host:port[,...][/chroot]`; only the first host is proxied.
 */
export async function zookeeperProbe(target: BackendTarget): Promise<RoundTripProbe> {
  const rest = target.url.replace(/^zk:\/\//, '')
  const slash = rest.indexOf('/')
  const hosts = slash < 0 ? rest : rest.slice(0, slash)
  const chroot = slash < 0 ? '' : rest.slice(slash)
  const first = hosts.split(',')[0] ?? ''
  const colon = first.lastIndexOf(':')
  const proxy = await CountingProxy.start(
    first.slice(0, colon),
    Number(first.slice(colon + 1)),
    () => new FlightCounter(),
  )
  return {
    target: { url: `zk://127.0.0.1:${proxy.port}${chroot}` },
    roundTrips: async () => proxy.roundTrips(),
    sessions: async () => proxy.sessions(),
    sessionsOpened: async () => proxy.sessionsOpened(),
    close: () => proxy.close(),
  }
}

/** PostgreSQL: `Query` and `Sync` messages (each ends one exchange with the server). */
export function postgresProbe(target: BackendTarget): Promise<RoundTripProbe> {
  return proxiedProbe(target, 5432, () => new PgMessageCounter())
}
