import { connect, createServer, type Server, type Socket } from 'node:net'
import { type LinkFaults, ProxyLink } from './proxy-link.js'

/** `toServer`: client->server bytes; `toClient`: server->client bytes. */
export type Direction = 'toServer' | 'toClient' | 'both'

interface Faults {
  toServer: LinkFaults
  toClient: LinkFaults
}

const clean = (): Faults => ({
  toServer: { held: false, delayMs: 0, jitterMs: 0 },
  toClient: { held: false, delayMs: 0, jitterMs: 0 },
})

function apply(faults: Faults, direction: Direction, change: Partial<LinkFaults>): void {
  if (direction !== 'toClient') Object.assign(faults.toServer, change)
  if (direction !== 'toServer') Object.assign(faults.toClient, change)
}

/** The fault operations that exist both for the whole proxy and for one connection. */
export interface FaultControls {
  /** Adds `ms` (plus up to `jitterMs`) to every chunk in `direction`; byte order is kept. */
  delay(ms: number, jitterMs?: number, direction?: Direction): void
  /** Holds bytes in `direction` (a partition that TCP would ride out): flushed in order by `heal()`. */
  hold(direction?: Direction): void
  /** Resets both sides (RST): the client and the server see the connection fail at once. */
  cut(): void
  /** Closes the server side only; the client's socket stays open but nothing answers. */
  halfClose(): void
  /** Clears delay and hold, and flushes held bytes. */
  heal(): void
}

/** One client connection through the proxy. */
export class ProxyConnection implements FaultControls {
  readonly id: number
  readonly #client: Socket
  readonly #server: Socket
  readonly #faults = clean()
  readonly #links: ProxyLink[]
  #open = true

  constructor(
    id: number,
    client: Socket,
    server: Socket,
    proxyFaults: Faults,
    onClose: () => void,
  ) {
    this.id = id
    this.#client = client
    this.#server = server
    const effective = (which: keyof Faults) => (): LinkFaults => {
      const own = this.#faults[which]
      const all = proxyFaults[which]
      return {
        held: own.held || all.held,
        delayMs: Math.max(own.delayMs, all.delayMs),
        jitterMs: Math.max(own.jitterMs, all.jitterMs),
      }
    }
    this.#links = [
      new ProxyLink(client, server, effective('toServer')),
      new ProxyLink(server, client, effective('toClient')),
    ]
    for (const socket of [client, server]) {
      socket.setNoDelay(true)
      socket.on('error', () => {})
    }
    // A side that closed takes the other one with it, unless halfClose() left the client dangling.
    client.on('close', () => {
      server.destroy()
      this.#closed(onClose)
    })
    server.on('close', () => {
      if (!this.#links[1]?.discard) client.destroy()
      this.#closed(onClose)
    })
  }

  get open(): boolean {
    return this.#open
  }

  delay(ms: number, jitterMs = 0, direction: Direction = 'both'): void {
    apply(this.#faults, direction, { delayMs: ms, jitterMs })
  }

  hold(direction: Direction = 'both'): void {
    apply(this.#faults, direction, { held: true })
  }

  heal(): void {
    Object.assign(this.#faults, clean())
    this.flush()
  }

  /** Re-evaluates queued bytes after the proxy-wide faults changed. */
  flush(): void {
    for (const link of this.#links) link.flush()
  }

  cut(): void {
    for (const link of this.#links) link.dispose()
    this.#client.resetAndDestroy()
    this.#server.resetAndDestroy()
  }

  halfClose(): void {
    const [toServer, toClient] = this.#links
    if (toServer) toServer.discard = true
    if (toClient) toClient.discard = true
    for (const link of this.#links) link.dispose()
    this.#server.destroy()
  }

  #closed(onClose: () => void): void {
    if (this.#client.destroyed && this.#server.destroyed && this.#open) {
      this.#open = false
      for (const link of this.#links) link.dispose()
      onClose()
    }
  }
}

export interface ProxyTarget {
  host: string
  port: number
}

/** A TCP proxy on a free loopback port in front of one server, with faults on demand. */
export interface FaultProxy extends FaultControls {
  readonly host: string
  readonly port: number
  /** `url` with the target's host:port replaced by the proxy's, e.g. for `server.url`. */
  urlFor(url: string): string
  /** New connections are accepted and reset at once (existing ones are untouched). */
  refuse(): void
  /** The same as `cut()`, under the name DESIGN.md section 7 uses. */
  reset(): void
  /** Connections currently open through the proxy, oldest first. */
  connections(): ProxyConnection[]
  /** Closes the listener and every connection. */
  close(): Promise<void>
}

/** Starts a fault proxy on 127.0.0.1 (a free port) that forwards to `target`. */
export async function startProxy(target: ProxyTarget): Promise<FaultProxy> {
  const faults = clean()
  const open = new Map<number, ProxyConnection>()
  let refusing = false
  let nextId = 1
  const server: Server = createServer({ noDelay: true }, (client) => {
    if (refusing) {
      client.on('error', () => {})
      client.resetAndDestroy()
      return
    }
    const upstream = connect({ host: target.host, port: target.port })
    const id = nextId++
    open.set(id, new ProxyConnection(id, client, upstream, faults, () => open.delete(id)))
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen({ host: '127.0.0.1', port: 0 }, resolve)
  })
  server.unref()
  const address = server.address()
  const port = typeof address === 'object' && address ? address.port : 0
  const each = (fn: (c: ProxyConnection) => void) => {
    for (const connection of [...open.values()]) fn(connection)
  }
  return {
    host: '127.0.0.1',
    port,
    urlFor: (url) => url.replace(`${target.host}:${target.port}`, `127.0.0.1:${port}`),
    delay(ms, jitterMs = 0, direction = 'both') {
      apply(faults, direction, { delayMs: ms, jitterMs })
    },
    hold(direction = 'both') {
      apply(faults, direction, { held: true })
    },
    cut: () => each((c) => c.cut()),
    reset: () => each((c) => c.cut()),
    halfClose: () => each((c) => c.halfClose()),
    refuse() {
      refusing = true
    },
    heal() {
      refusing = false
      Object.assign(faults.toServer, clean().toServer)
      Object.assign(faults.toClient, clean().toClient)
      each((c) => c.heal())
    },
    connections: () => [...open.values()],
    async close() {
      each((c) => c.cut())
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
