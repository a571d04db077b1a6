import { createRequire } from 'node:module'
import { setTimeout as sleep } from 'node:timers/promises'

/** Rejects with "timed out" when `promise` takes longer than `ms`: how a paused server shows. */
export async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  const controller = new AbortController()
  const timeout = sleep(ms, undefined, { signal: controller.signal }).then(() => {
    throw new Error(`timed out after ${ms} ms`)
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    controller.abort()
    timeout.catch(() => {})
  }
}

/**
 * Polls `check` until it returns true or `timeoutMs` passes. `state`, when given, describes
 * what was last seen; the timeout's message carries it, so a failure in CI says why.
 */
export async function eventually(
  check: () => Promise<boolean>,
  timeoutMs: number,
  state?: () => string,
): Promise<void> {
  const deadline = performance.now() + timeoutMs
  let lastError: unknown
  for (;;) {
    if (
      await check().catch((err: unknown) => {
        lastError = err
        return false
      })
    )
      return
    if (performance.now() > deadline) {
      const seen =
        state?.() ?? (lastError instanceof Error ? `last error: ${lastError.message}` : '')
      throw new Error(`condition not met within ${timeoutMs} ms${seen ? `; ${seen}` : ''}`)
    }
    await sleep(50)
  }
}

// node-zookeeper-client ships no types: the subset these tests call.
interface ZkStat {
  czxid: Buffer
}
interface ZkClient {
  connect(): void
  close(): void
  once(event: 'connected' | 'disconnected' | 'expired', listener: () => void): void
  create(path: string, data: Buffer, callback: (error: Error | null, path: string) => void): void
  getData(path: string, callback: (error: Error | null, data: Buffer, stat: ZkStat) => void): void
  setData(path: string, data: Buffer, callback: (error: Error | null) => void): void
}
const zookeeper = createRequire(import.meta.url)('node-zookeeper-client') as {
  createClient(
    connection: string,
    options?: { sessionTimeout?: number; spinDelay?: number; retries?: number },
  ): ZkClient
}

/** A connected ZooKeeper client for `zk://host:port[,host:port]`. */
export async function zkConnect(url: string, sessionTimeoutMs = 4_000): Promise<Zk> {
  const client = zookeeper.createClient(url.replace(/^zk:\/\//, ''), {
    sessionTimeout: sessionTimeoutMs,
    spinDelay: 100,
    retries: 0,
  })
  const connected = new Promise<void>((resolve) => client.once('connected', resolve))
  client.connect()
  try {
    await withTimeout(connected, 15_000)
  } catch (error) {
    client.close()
    throw error
  }
  return new Zk(client)
}

export class Zk {
  readonly #client: ZkClient
  constructor(client: ZkClient) {
    this.#client = client
  }
  create(path: string, data: string): Promise<string> {
    return new Promise((resolve, reject) =>
      this.#client.create(path, Buffer.from(data), (e, p) => (e ? reject(e) : resolve(p))),
    )
  }
  get(path: string): Promise<string> {
    return new Promise((resolve, reject) =>
      this.#client.getData(path, (e, data) => (e ? reject(e) : resolve(data.toString()))),
    )
  }
  set(path: string, data: string): Promise<void> {
    return new Promise((resolve, reject) =>
      this.#client.setData(path, Buffer.from(data), (e) => (e ? reject(e) : resolve())),
    )
  }
  close(): void {
    this.#client.close()
  }
}
