import { createServer } from 'node:net'

// Ports the harness never hands out, even if the kernel offers them: the machine's own services.
const RESERVED_PORTS = new Set([2181, 2379, 2380, 2888, 3306, 3888, 5432, 6379, 8080])
const handedOut = new Set<number>()

/** A TCP port that is free on 127.0.0.1 right now and was not handed out before in this process. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = createServer()
      server.unref()
      server.once('error', reject)
      server.listen({ host, port: 0, exclusive: true }, () => {
        const address = server.address()
        const found = typeof address === 'object' && address ? address.port : 0
        server.close(() => resolve(found))
      })
    })
    if (port > 0 && !RESERVED_PORTS.has(port) && !handedOut.has(port)) {
      handedOut.add(port)
      return port
    }
  }
  throw new Error(`no free loopback port found on ${host}`)
}

/** `count` distinct free ports. */
export async function freePorts(count: number, host = '127.0.0.1'): Promise<number[]> {
  const ports: number[] = []
  for (let i = 0; i < count; i++) ports.push(await freePort(host))
  return ports
}
