import { connect, createServer, type Server, type Socket } from 'node:net'

/*
 * Round trips are counted on the wire. PostgreSQL has no per-statement counter that is exact over a window of a few seconds
 * (pg_stat_statements is not installed, and pg_stat_database is flushed by each backend at
 * most once a second and up to 10 s late when idle), and Redis' INFO commandstats also
 * counts the commands a Lua script runs. So the driver under test connects through this
 * loopback proxy, which forwards bytes untouched, counts round trips per connection and
 * counts open sessions.
 */

const SSL_REQUEST = 80877103
const GSSENC_REQUEST = 80877104

/** Counts the round trips of one connection from the bytes that pass. */
export interface RoundTripCounter {
  fromClient(chunk: Buffer): void
  fromServer(chunk: Buffer): void
  readonly roundTrips: number
}

/**
 * Protocol-agnostic: a round trip is a burst of client bytes that follows server bytes (or
 * opens the connection). A pipelined batch is one round trip; N awaited requests are N.
 */
export class FlightCounter implements RoundTripCounter {
  #serverSpoke = true
  roundTrips = 0

  fromClient(): void {
    if (this.#serverSpoke) this.roundTrips += 1
    this.#serverSpoke = false
  }

  fromServer(): void {
    this.#serverSpoke = true
  }
}

/** PostgreSQL frontend messages: every `Query` and every `Sync` is one round trip. */
export class PgMessageCounter implements RoundTripCounter {
  #startup = true
  #header = Buffer.alloc(0)
  #skipBytes = 0
  roundTrips = 0

  fromServer(): void {}

  fromClient(chunk: Buffer): void {
    let offset = 0
    while (offset < chunk.length) {
      if (this.#skipBytes > 0) {
        const n = Math.min(this.#skipBytes, chunk.length - offset)
        this.#skipBytes -= n
        offset += n
        continue
      }
      const headerBytes = this.#startup ? 8 : 5
      const need = headerBytes - this.#header.length
      const take = chunk.subarray(offset, offset + need)
      this.#header = Buffer.concat([this.#header, take])
      offset += take.length
      if (this.#header.length < headerBytes) return
      this.#onHeader(this.#header)
      this.#header = Buffer.alloc(0)
    }
  }

  #onHeader(header: Buffer): void {
    if (this.#startup) {
      // Untyped: int32 length (including itself), int32 code; the rest is the payload.
      const length = header.readInt32BE(0)
      const code = header.readInt32BE(4)
      if (code !== SSL_REQUEST && code !== GSSENC_REQUEST) this.#startup = false
      this.#skipBytes = length - 8
      return
    }
    const type = String.fromCharCode(header[0] as number)
    if (type === 'Q' || type === 'S') this.roundTrips += 1
    this.#skipBytes = header.readInt32BE(1) - 4
  }
}

/** A loopback TCP proxy in front of one server that counts round trips and sessions. */
export class CountingProxy {
  readonly #server: Server
  readonly #sockets = new Set<Socket>()
  readonly #counters = new Set<RoundTripCounter>()
  #closedRoundTrips = 0
  #sessions = 0
  #opened = 0
  port = 0

  private constructor(
    upstreamHost: string,
    upstreamPort: number,
    makeCounter: () => RoundTripCounter,
  ) {
    this.#server = createServer((client) => {
      const upstream = connect({ host: upstreamHost, port: upstreamPort })
      const counter = makeCounter()
      this.#counters.add(counter)
      this.#sessions += 1
      this.#opened += 1
      this.#sockets.add(client).add(upstream)
      client.on('data', (chunk: Buffer) => counter.fromClient(chunk))
      upstream.on('data', (chunk: Buffer) => counter.fromServer(chunk))
      client.pipe(upstream)
      upstream.pipe(client)
      const end = () => {
        if (!this.#counters.delete(counter)) return
        this.#closedRoundTrips += counter.roundTrips
        this.#sessions -= 1
        client.destroy()
        upstream.destroy()
        this.#sockets.delete(client)
        this.#sockets.delete(upstream)
      }
      client.on('close', end).on('error', end)
      upstream.on('close', end).on('error', end)
    })
  }

  /** Starts a proxy on a free loopback port in front of `host:port`, one counter per connection. */
  static async start(
    upstreamHost: string,
    upstreamPort: number,
    makeCounter: () => RoundTripCounter,
  ): Promise<CountingProxy> {
    const proxy = new CountingProxy(upstreamHost, upstreamPort, makeCounter)
    await new Promise<void>((resolve, reject) => {
      proxy.#server.once('error', reject).listen(0, '127.0.0.1', () => resolve())
    })
    const address = proxy.#server.address()
    proxy.port = typeof address === 'object' && address !== null ? address.port : 0
    return proxy
  }

  /** Round trips of every session so far, open or closed. */
  roundTrips(): number {
    let total = this.#closedRoundTrips
    for (const counter of this.#counters) total += counter.roundTrips
    return total
  }

  /** Sessions ever opened through the proxy. */
  sessionsOpened(): number {
    return this.#opened
  }

  /** Sessions open through the proxy right now. */
  sessions(): number {
    return this.#sessions
  }

  /** Stops listening and cuts every forwarded connection. */
  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy()
    await new Promise<void>((resolve) => this.#server.close(() => resolve()))
  }
}
