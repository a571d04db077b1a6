/** One server the harness provisioned (or an external one named by BATON_<BACKEND>_URL). */
export interface ServerHandle {
  /** Backend and role, e.g. "redis", "postgres", "etcd-2". */
  readonly name: string
  /** Always a loopback address for servers the harness started. */
  readonly host: string
  /** TCP port clients connect to. */
  readonly port: number
  /** Connection URL in the form Baton's `connect()` understands. */
  readonly url: string
  /** True for a server from BATON_<BACKEND>_URL: the fault methods below then throw. */
  readonly external: boolean
  /** Stops the server gracefully and removes its data directory. Final and idempotent. */
  stop(): Promise<void>
  /** SIGKILL to the server's whole process group; the data directory stays for `restart()`. */
  kill(): Promise<void>
  /** SIGSTOP to the whole process group: connections stay open but nothing answers. */
  pause(): Promise<void>
  /** SIGCONT after `pause()`. */
  resume(): Promise<void>
  /** Stops the server if it runs and starts it again on the same port and data; resolves when ready. */
  restart(): Promise<void>
  /** Everything the server wrote to stdout and stderr (bounded tail). */
  logs(): string
}

/** Several servers that form one deployment (etcd cluster, ZooKeeper ensemble, Redis quorum nodes). */
export interface ClusterHandle {
  readonly name: string
  /** Every member; the fault methods act on one member each. */
  readonly members: readonly ServerHandle[]
  /** One URL naming every member, e.g. `etcd://127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3`. */
  readonly url: string
  readonly external: boolean
  /** Stops every member and removes their directories. */
  stop(): Promise<void>
  /** Every member's log, each under a header line. */
  logs(): string
}

/** Thrown by a fault method of an external server: the harness does not own it. */
export class ExternalServerError extends Error {
  override readonly name = 'ExternalServerError'
}

/** True when a fault method can work on this handle; use it to skip a fault test visibly. */
export function canInjectFaults(handle: ServerHandle | ClusterHandle): boolean {
  return !handle.external
}
