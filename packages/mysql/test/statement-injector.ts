import { connect, createServer, type Server, type Socket } from 'node:net'

/**
 * A TCP relay between the driver and a real server that can slip a statement of its own
 * into every relayed connection and swallow the server's one-packet answer, so the driver
 * never sees it: what a pooling proxy does when it "resets" a backend connection behind
 * its client's back. Only for idle connections (no command of the client in flight), which
 * the tests arrange; `DO ...` answers with exactly one packet (OK or ERR).
 */
export interface StatementInjector {
  readonly port: number
  /** Sends `sql` as COM_QUERY on every open relayed connection; resolves when all answered. */
  inject(sql: string): Promise<void>
  close(): Promise<void>
}

interface Relay {
  readonly client: Socket
  readonly upstream: Socket
  /** Resolvers of injected statements whose answer is still to be swallowed, in order. */
  readonly pending: Array<() => void>
  buffer: Buffer
}

export async function startInjector(host: string, port: number): Promise<StatementInjector> {
  const relays = new Set<Relay>()
  const server: Server = createServer({ noDelay: true }, (client) => {
    const upstream = connect({ host, port, noDelay: true })
    const relay: Relay = { client, upstream, pending: [], buffer: Buffer.alloc(0) }
    relays.add(relay)
    const end = () => {
      relays.delete(relay)
      client.destroy()
      upstream.destroy()
    }
    client.on('error', end).on('close', end)
    upstream.on('error', end).on('close', end)
    client.on('data', (chunk: Buffer) => upstream.write(chunk))
    upstream.on('data', (chunk: Buffer) => {
      if (relay.pending.length === 0) {
        client.write(chunk)
        return
      }
      relay.buffer = Buffer.concat([relay.buffer, chunk])
      while (relay.pending.length > 0 && relay.buffer.length >= 4) {
        const length = relay.buffer.readUIntLE(0, 3)
        if (relay.buffer.length < 4 + length) break
        relay.buffer = relay.buffer.subarray(4 + length)
        relay.pending.shift()?.()
      }
      if (relay.pending.length === 0 && relay.buffer.length > 0) {
        client.write(relay.buffer)
        relay.buffer = Buffer.alloc(0)
      }
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('injector has no port')
  return {
    port: address.port,
    async inject(sql: string) {
      const answers = [...relays].map(
        (relay) =>
          new Promise<void>((resolve) => {
            const payload = Buffer.concat([Buffer.from([0x03]), Buffer.from(sql, 'utf8')])
            const header = Buffer.alloc(4)
            header.writeUIntLE(payload.length, 0, 3)
            header.writeUInt8(0, 3)
            relay.pending.push(resolve)
            relay.upstream.write(Buffer.concat([header, payload]))
          }),
      )
      await Promise.all(answers)
    },
    async close() {
      for (const relay of relays) {
        relay.client.destroy()
        relay.upstream.destroy()
      }
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
