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
  /** Extra handoff contenders for this backend, e.g. PostgreSQL's server-side wait (the handoff floor). */
  readonly handoffFloors?: readonly ContenderSpec[]
  /** False for in-process backends, which cannot be shared by worker processes. */
  readonly crossProcess: boolean
  /** Server-side round-trip and session counters for the scale scenario, where the backend has them. */
  probe?(target: BackendTarget): Promise<RoundTripProbe>
}
