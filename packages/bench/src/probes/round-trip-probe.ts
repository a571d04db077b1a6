import type { BackendTarget } from '../lock-client.js'
import {
  CountingProxy,
  FlightCounter,
  PgMessageCounter,
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
  close(): Promise<void>
}

export async function proxiedProbe(
  target: BackendTarget,
  defaultPort: number,
  makeCounter: () => RoundTripCounter,
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
    close: () => proxy.close(),
  }
}

/** Redis: request bursts per connection (a pipeline or one script call is one round trip). */
export function redisProbe(target: BackendTarget): Promise<RoundTripProbe> {
  return proxiedProbe(target, 6379, () => new FlightCounter())
}

/** PostgreSQL: `Query` and `Sync` messages (each ends one exchange with the server). */
export function postgresProbe(target: BackendTarget): Promise<RoundTripProbe> {
  return proxiedProbe(target, 5432, () => new PgMessageCounter())
}
