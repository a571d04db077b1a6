import type { LockDriver } from '@baton-lock/core'
import type { BackendTarget, ContenderSpec } from './lock-client.js'
import type { RoundTripProbe } from './probes/round-trip-probe.js'

/** A backend the benchmark started for this run. */
export interface RunningBackend {
  readonly target: BackendTarget
  /** Server (or library) version for the machine description, e.g. "Redis 7.0.15". */
  readonly version: string
  /** How the server was provisioned, e.g. "native redis-server on a free loopback port". */
  readonly provisioning: string
  stop(): Promise<void>
}

/**
 * One row group of the benchmark. Adding a backend (MySQL, etcd, ZooKeeper) means adding
 * one of these to `BACKENDS`: how to start its server, its hand-written floor, Baton's
 * driver for it, and the peer libraries to compare against.
 */
export interface BackendSpec {
  readonly name: string
  /** Starts a private server (through @baton-lock/test-matrix) or prepares a file. */
  start(): Promise<RunningBackend>
  /** The hand-written minimal protocol for uncontended cycles: the 1.0x of its rows. */
  readonly floor: ContenderSpec
  /** Baton's driver for this backend; used by every scenario. */
  createDriver(target: BackendTarget): Promise<LockDriver>
  /** Peer libraries, for uncontended cycles and (when they wait) the handoff. */
  readonly peers: readonly ContenderSpec[]
  /** Extra rows of the uncontended interleave beside the floor (role `reference`), e.g. the unfenced protocol. */
  readonly references?: readonly ContenderSpec[]
  /**
   * The floor's natural best for independent keys in one process: `shared` = one client
   * for every key (Redis: one connection, commands pipelined), `per-key` = one client per
   * key (PostgreSQL, MySQL: one connection each, since a session runs one statement at a time).
   * Default `shared`.
   */
  readonly keysFloor?: 'shared' | 'per-key'
  /**
   * Whose handoff floor this backend's handoff is judged against: `own` (etcd, ZooKeeper:
   * their best raw watch recipe) or another backend's name (`postgres`: PostgreSQL's
   * server-side wait). This backend's own handoff floors then show as references. Default `own`.
   */
  readonly handoffReference?: 'own' | string
  /** Extra handoff contenders for this backend, e.g. PostgreSQL's server-side wait (the handoff floor). */
  readonly handoffFloors?: readonly ContenderSpec[]
  /** False for in-process backends, which cannot be shared by worker processes. */
  readonly crossProcess: boolean
  /** Round-trip and session counters (a counting proxy), where the backend's protocol lets one count. */
  probe?(target: BackendTarget): Promise<RoundTripProbe>
}
