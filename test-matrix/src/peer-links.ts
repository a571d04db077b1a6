import { readdirSync, readFileSync, readlinkSync } from 'node:fs'
import { connect, createServer, type Server, type Socket } from 'node:net'
import type { NativeServer } from './native-server.js'
import { processTree } from './process-tree.js'
import type { ClusterHandle } from './server-handle.js'

const host = '127.0.0.1'

interface PeerLink {
  from: number | undefined
  readonly to: number
  readonly ports: readonly [number, number]
  readonly sockets: readonly Socket[]
}

/**
 * TCP proxies in front of members' peer ports, so that a member can be cut off in both
 * directions: a connection between an isolated member and a non-isolated one is destroyed.
 * A proxy is either one member's own way to a peer (`from` given: ZooKeeper, whose members
 * each have their own peer list), or shared by every member dialing that peer (etcd, whose
 * members must agree on each other's peer URLs); there each accepted connection is
 * attributed to the member that dialed it, the process owning its other end, read from
 * /proc. That read can miss a dialer that is closing its socket (such a connection carries
 * nothing); a shared proxy leaves those unattributed and tries again on isolate.
 */
export class PeerLinks {
  servers: readonly NativeServer[] = []
  readonly #listeners: Server[] = []
  readonly #open = new Set<PeerLink>()
  readonly #isolated = new Set<number>()

  /**
   * A proxy for member `to` forwarding to its peer port `targetPort`, used by member `from`
   * alone when given (by every other member if not); resolves with its port.
   */
  async listen(to: number, targetPort: number, from?: number): Promise<number> {
    const server = createServer({ noDelay: true }, (client) =>
      this.#accept(client, to, targetPort, from),
    )
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen({ host, port: 0 }, resolve)
    })
    server.unref()
    this.#listeners.push(server)
    const address = server.address()
    return typeof address === 'object' && address ? address.port : 0
  }

  isolate(index: number): void {
    this.#isolated.add(index)
    for (const link of [...this.#open]) {
      link.from ??= this.#dialer(...link.ports)
      if (this.#blocked(link.from, link.to)) this.#destroy(link)
    }
  }

  heal(): void {
    this.#isolated.clear()
  }

  /** Closes every proxy and its connections (a failed start attempt's too: the next attempt opens new ones). */
  async close(): Promise<void> {
    const listeners = this.#listeners.splice(0)
    for (const link of [...this.#open]) this.#destroy(link)
    await Promise.all(listeners.map((l) => new Promise((resolve) => l.close(resolve))))
  }

  #blocked(from: number | undefined, to: number): boolean {
    return from !== undefined && this.#isolated.has(from) !== this.#isolated.has(to)
  }

  #accept(client: Socket, to: number, targetPort: number, dialer?: number): void {
    client.on('error', () => {})
    const ports = [client.remotePort ?? 0, client.localPort ?? 0] as const
    const from = dialer ?? this.#dialer(...ports)
    if (this.#blocked(from, to)) {
      client.resetAndDestroy()
      return
    }
    const upstream = connect({ host, port: targetPort, noDelay: true })
    upstream.on('error', () => {})
    const link: PeerLink = { from, to, ports, sockets: [client, upstream] }
    this.#open.add(link)
    client.pipe(upstream)
    upstream.pipe(client)
    const closed = () => this.#destroy(link)
    client.once('close', closed)
    upstream.once('close', closed)
  }

  #destroy(link: PeerLink): void {
    this.#open.delete(link)
    for (const socket of link.sockets) socket.destroy()
  }

  /** Index of the member whose process owns the socket 127.0.0.1:srcPort -> 127.0.0.1:dstPort. */
  #dialer(srcPort: number, dstPort: number): number | undefined {
    const hex = (port: number) => port.toString(16).toUpperCase().padStart(4, '0')
    const local = `0100007F:${hex(srcPort)}`
    const remote = `0100007F:${hex(dstPort)}`
    let inode: string | undefined
    try {
      for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
        const fields = line.trim().split(/\s+/)
        if (fields[1] === local && fields[2] === remote) inode = fields[9]
      }
    } catch {
      return undefined
    }
    if (inode === undefined) return undefined
    const socket = `socket:[${inode}]`
    for (const [index, server] of this.servers.entries()) {
      const pid = server.pid
      if (pid === undefined) continue
      for (const member of processTree(pid)) {
        let fds: string[]
        try {
          fds = readdirSync(`/proc/${member}/fd`)
        } catch {
          continue
        }
        for (const fd of fds) {
          try {
            if (readlinkSync(`/proc/${member}/fd/${fd}`) === socket) return index
          } catch {
            // closed meanwhile
          }
        }
      }
    }
    return undefined
  }
}

/** What a cluster started with peer proxies can do besides a plain cluster. */
export interface Partitionable {
  isolate(index: number): void
  heal(): void
}

/**
 * `handle` with `isolate`/`heal` over `links`, closed when the cluster stops; without
 * links, both throw (the cluster was started without `peerProxies`).
 */
export function partitionable<H extends ClusterHandle>(
  handle: H,
  links: PeerLinks | undefined,
  what: string,
): H & Partitionable {
  if (links === undefined) {
    const noProxies = () => {
      throw new Error(`${what} started without peerProxies: members cannot be cut off`)
    }
    return { ...handle, isolate: noProxies, heal: noProxies }
  }
  return {
    ...handle,
    async stop() {
      try {
        await handle.stop()
      } finally {
        await links.close()
      }
    },
    isolate: (index) => links.isolate(index),
    heal: () => links.heal(),
  }
}
