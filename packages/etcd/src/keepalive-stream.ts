import type { Etcd3 } from 'etcd3'

type Duplex = Awaited<ReturnType<Etcd3['leaseClient']['leaseKeepAlive']>>

interface Pending {
  readonly resolve: (ttlSeconds: number) => void
  readonly reject: (err: unknown) => void
}

/**
 * One `LeaseKeepAlive` stream for every lease of a driver. `keepAlive(id)` sends one request
 * and resolves with the TTL the server granted (0: the lease is gone), or rejects when no
 * reply came within the operation timeout or the stream broke. A stream that timed out is
 * dropped, so the next request opens a new one (possibly to another member).
 */
export class KeepAliveStream {
  readonly #client: Etcd3
  readonly #timeoutMs: number
  #stream: Promise<Duplex> | undefined
  #pending = new Map<string, Pending[]>()
  #closed = false

  constructor(client: Etcd3, timeoutMs: number) {
    this.#client = client
    this.#timeoutMs = timeoutMs
  }

  /** Sends one keepalive for lease `id` (decimal) and resolves with the granted TTL in seconds. */
  async keepAlive(id: string): Promise<number> {
    if (this.#closed) throw new Error('etcd keepalive stream is closed')
    const opened = this.#open()
    let timer: NodeJS.Timeout | undefined
    const reply = new Promise<number>((resolve, reject) => {
      const waiters = this.#pending.get(id) ?? []
      waiters.push({ resolve, reject })
      this.#pending.set(id, waiters)
      timer = setTimeout(() => {
        this.#reset(opened, new Error(`etcd: no keepalive reply within ${this.#timeoutMs} ms`))
      }, this.#timeoutMs)
      timer.unref()
    })
    // A stream that fails to open rejects `reply` (via #reset) before it is awaited.
    reply.catch(() => {})
    try {
      const stream = await opened
      stream.write({ ID: id })
      return await reply
    } catch (err) {
      this.#reset(opened, err)
      throw err
    } finally {
      clearTimeout(timer)
    }
  }

  /** Ends the stream and fails every request in flight. */
  close(): void {
    this.#closed = true
    if (this.#stream !== undefined) this.#reset(this.#stream, new Error('etcd driver closed'))
  }

  #open(): Promise<Duplex> {
    if (this.#stream !== undefined) return this.#stream
    const opened = this.#client.leaseClient.leaseKeepAlive()
    this.#stream = opened
    opened.then(
      (stream) => {
        stream.on('data', (res: { ID: string; TTL: string }) => {
          // A reply on a stream already dropped must not confirm a later request.
          if (this.#stream !== opened) return
          const waiters = this.#pending.get(res.ID)
          const first = waiters?.shift()
          if (waiters !== undefined && waiters.length === 0) this.#pending.delete(res.ID)
          first?.resolve(Number(res.TTL))
        })
        const broken = (err: unknown) => this.#reset(opened, err)
        stream.on('error', broken)
        stream.on('end', () => broken(new Error('etcd keepalive stream ended')))
      },
      (err: unknown) => this.#reset(opened, err),
    )
    return opened
  }

  /** Drops `stream` if it is still the current one and fails its requests in flight. */
  #reset(stream: Promise<Duplex>, err: unknown): void {
    if (this.#stream !== stream) return
    this.#stream = undefined
    const pending = this.#pending
    this.#pending = new Map()
    for (const waiters of pending.values()) for (const w of waiters) w.reject(err)
    stream.then(
      (s) => {
        s.on('error', () => {})
        s.cancel()
      },
      () => {},
    )
  }
}
