import type { Capabilities, LockDriver } from '@baton-lock/core'
import type { ClusterHandle, FaultProxy, ServerHandle } from '@baton-lock/test-matrix'
import type { MemoryHost } from './memory-host.js'

export type BackendName =
  | 'memory'
  | 'sqlite'
  | 'redis'
  | 'postgres'
  | 'mysql'
  | 'etcd'
  | 'zookeeper'
  | 'redlock'

/** What one leftover count (H1) is called and how many there were. */
export interface Leftover {
  what: string
  count: number
  detail?: string
}

/** One running deployment of a backend, as the scenarios use it. */
export interface Deployment {
  backend: BackendName
  /** Topology shown in the report, e.g. "1 server", "3 members". */
  topology: string
  ttlMs: number
  /** The lock URL client `i` uses (through its own proxies where there are servers). */
  clientUrl(i: number): string
  /** A URL straight to the servers, for the harness's own probes. */
  directUrl: string
  /** Client `i`'s proxies (one per server it can reach); empty without servers. */
  proxiesOf(i: number): FaultProxy[]
  server?: ServerHandle
  cluster?: ClusterHandle
  memoryHost?: MemoryHost
  /** The cluster's leader now (clusters only). */
  leader?(): Promise<ServerHandle>
  /**
   * True for a leaderless quorum of independent servers (Redlock): a majority grants, no
   * member is special, so the nemeses strike single members and single links instead of a leader.
   */
  quorum?: boolean
  /** Cuts member `index` off from the other members (peer links only; clients still reach it). */
  isolate?(index: number): void
  /** Undoes `isolate`. */
  healPartition?(): void
  /** Where the fenced store lives for clients. */
  store: { kind: 'file' } | { kind: 'postgres'; url: string }
  /** True when the server frees a session's locks as soon as its connection closes. */
  freesOnDisconnect: boolean
  capabilities: Capabilities
  /** Opens a driver for the harness's own probes (S4, H1). */
  driver(): Promise<LockDriver>
  /**
   * What each member says of `key` when asked on its own (ZooKeeper: every member answers
   * reads from its own copy), for a report of a key that stayed taken: one line per member.
   */
  memberViews?(key: string): Promise<string>
  /** Server-side leftovers beyond the driver's inspect/list (sessions, leases, znodes, ...). */
  serverLeftovers(): Promise<Leftover[]>
  /** A deployment note for the report (e.g. Redis persistence). */
  note: string
  stop(): Promise<void>
}
