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
  /** Script calls seen (Redis EVAL, EVALSHA, FCALL and their _RO forms), where the counter parses commands. */
  readonly scripts?: number
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

const SCRIPT_COMMANDS = new Set(['EVAL', 'EVALSHA', 'FCALL', 'EVAL_RO', 'EVALSHA_RO', 'FCALL_RO'])
const LF = 0x0a

/**
 * Redis: round trips as `FlightCounter` does, plus the commands the client sends (RESP
 * arrays, or inline commands), and among them the script calls. Streams across chunk
 * boundaries; only the first bulk string of each command (its name) is kept.
 */
export class RespCounter implements RoundTripCounter {
  readonly #flight = new FlightCounter()
  commands = 0
  scripts = 0
  #line = ''
  #state: 'top' | 'bulkHeader' | 'bulkData' = 'top'
  #bulksLeft = 0
  #dataLeft = 0
  #crlfLeft = 0
  #first = false
  #name = ''

  get roundTrips(): number {
    return this.#flight.roundTrips
  }

  fromServer(): void {
    this.#flight.fromServer()
  }

  fromClient(chunk: Buffer): void {
    this.#flight.fromClient()
    let i = 0
    while (i < chunk.length) {
      if (this.#state === 'bulkData') {
        if (this.#dataLeft > 0) {
          const n = Math.min(this.#dataLeft, chunk.length - i)
          if (this.#first && this.#name.length < 32)
            this.#name += chunk.toString('latin1', i, i + n)
          this.#dataLeft -= n
          i += n
          continue
        }
        const n = Math.min(this.#crlfLeft, chunk.length - i)
        this.#crlfLeft -= n
        i += n
        if (this.#crlfLeft > 0) continue
        if (this.#first) this.#command(this.#name)
        this.#first = false
        this.#bulksLeft -= 1
        this.#state = this.#bulksLeft > 0 ? 'bulkHeader' : 'top'
        continue
      }
      const end = chunk.indexOf(LF, i)
      if (end < 0) {
        this.#line += chunk.toString('latin1', i)
        return
      }
      const line = (this.#line + chunk.toString('latin1', i, end)).replace(/\r$/, '')
      this.#line = ''
      i = end + 1
      this.#header(line)
    }
  }

  #header(line: string): void {
    if (this.#state === 'bulkHeader') {
      this.#dataLeft = Math.max(0, Number.parseInt(line.slice(1), 10) || 0)
      this.#crlfLeft = 2
      this.#state = 'bulkData'
      return
    }
    if (line.startsWith('*')) {
      this.#bulksLeft = Number.parseInt(line.slice(1), 10) || 0
      if (this.#bulksLeft <= 0) return
      this.#first = true
      this.#name = ''
      this.#state = 'bulkHeader'
      return
    }
    if (line.trim() !== '') this.#command(line.trim().split(/\s+/)[0] ?? '')
  }

  #command(name: string): void {
    this.commands += 1
    if (SCRIPT_COMMANDS.has(name.toUpperCase())) this.scripts += 1
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
  #closedScripts = 0
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
        this.#closedScripts += counter.scripts ?? 0
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

  /** Script calls of every session so far (counters that parse commands only). */
  scripts(): number {
    let total = this.#closedScripts
    for (const counter of this.#counters) total += counter.scripts ?? 0
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
