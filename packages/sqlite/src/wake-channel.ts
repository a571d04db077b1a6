import { randomBytes } from 'node:crypto'
import { unlinkSync } from 'node:fs'
import { createConnection, createServer, type Server, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { QueueHead } from './queue-head.js'

/** A waiter asleep on its ticket, or a wake that came while it was not asleep. */
interface Ticket {
  wake: (() => void) | undefined
  pending: boolean
}

/** This process's channels by address, so a wake between two drivers of one process takes no socket. */
const local = new Map<string, WakeChannel>()

/**
 * Push wake-ups for one driver's waiters, across processes on one host. Each queued
 * ticket in the database names the address of its driver's channel: a local socket
 * (Linux: an abstract Unix socket, which leaves no file behind; elsewhere a Unix socket in
 * the temp directory, or a named pipe on Windows). A release reads the head of the key's
 * queue in its DELETE and sends that ticket's number there; the channel wakes the one
 * sleeping waiter. A wake that finds its waiter awake (between two tries) is kept for its
 * next sleep, so none is lost. The bounded poll stays as the backstop: a channel that
 * cannot listen, or a process that cannot reach another's (another network namespace or
 * user), only makes the handoff slower.
 */
export class WakeChannel {
  readonly #tickets = new Map<bigint, Ticket>()
  #server: Server | undefined
  #address: Promise<string | null> | undefined
  #known: string | null | undefined
  #closed = false

  /** The address waiters of this driver give in their tickets; starts listening on first use; null when it cannot. */
  address(): Promise<string | null> {
    this.#address ??= this.#listen().then((address) => {
      this.#known = address
      return address
    })
    return this.#address
  }

  /** The address once listening started (null: cannot listen), undefined before that. */
  get knownAddress(): string | null | undefined {
    return this.#known
  }

  /** Starts tracking `seq` (a ticket of this driver) so that no wake to it is lost. */
  register(seq: bigint): void {
    this.#tickets.set(seq, { wake: undefined, pending: false })
  }

  /** Stops tracking `seq` (granted, gone, or given up). */
  unregister(seq: bigint): void {
    this.#tickets.get(seq)?.wake?.()
    this.#tickets.delete(seq)
  }

  /** Wakes the waiter of `seq` in this driver; remembered for its next sleep if it is awake. */
  wake(seq: bigint): void {
    const ticket = this.#tickets.get(seq)
    if (ticket === undefined) return
    if (ticket.wake !== undefined) ticket.wake()
    else ticket.pending = true
  }

  /**
   * Sleeps up to `ms`, less when `seq` is woken (or was, since its last sleep) or `signal`
   * aborts. The timer keeps the process alive (a pending acquire is work); the socket does not.
   */
  sleep(seq: bigint, ms: number, signal: AbortSignal): Promise<void> {
    const ticket = this.#tickets.get(seq)
    if (signal.aborted || ticket === undefined) return Promise.resolve()
    if (ticket.pending) {
      ticket.pending = false
      return Promise.resolve()
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer)
        signal.removeEventListener('abort', done)
        if (ticket.wake === done) ticket.wake = undefined
        resolve()
      }
      const timer = setTimeout(done, Math.max(0, ms))
      ticket.wake = done
      signal.addEventListener('abort', done, { once: true })
    })
  }

  /** Stops listening (and removes the socket file where there is one); idempotent. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    for (const seq of [...this.#tickets.keys()]) this.unregister(seq)
    const server = this.#server
    if (server === undefined) return
    this.#server = undefined
    server.close()
    void this.#address?.then((address) => {
      if (address === null) return
      local.delete(address)
      if (!address.startsWith('@') && process.platform !== 'win32') {
        try {
          unlinkSync(address)
        } catch {}
      }
    })
  }

  async #listen(): Promise<string | null> {
    if (this.#closed) return null
    const address = newAddress()
    const server = createServer((socket) => this.#receive(socket))
    server.on('error', () => {})
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject)
        server.listen(socketPath(address), () => {
          server.off('error', reject)
          resolve()
        })
      })
    } catch {
      return null
    }
    server.unref()
    if (this.#closed) {
      server.close()
      return null
    }
    this.#server = server
    local.set(address, this)
    return address
  }

  #receive(socket: Socket): void {
    socket.on('error', () => {})
    socket.setEncoding('latin1')
    let buffered = ''
    socket.on('data', (chunk: string) => {
      buffered += chunk
      let end = buffered.indexOf('\n')
      while (end !== -1) {
        const line = buffered.slice(0, end)
        buffered = buffered.slice(end + 1)
        if (/^[0-9]{1,19}$/.test(line)) this.wake(BigInt(line))
        end = buffered.indexOf('\n')
      }
      // a peer that sends garbage without newlines gets cut off
      if (buffered.length > 64) socket.destroy()
    })
  }
}

/**
 * Wakes the ticket at the head of a queue: directly when its channel is in this process,
 * else with one message to its socket (fire and forget: a waiter that is gone, or cannot
 * be reached, is found by its own poll or drops out when its ticket expires).
 */
export function sendWake(head: QueueHead | undefined): void {
  if (head === undefined || head.wake === null) return
  const channel = local.get(head.wake)
  if (channel !== undefined) {
    channel.wake(head.seq)
    return
  }
  if (!isAddress(head.wake)) return
  const socket = createConnection(socketPath(head.wake))
  socket.on('error', () => {})
  socket.unref()
  socket.end(`${head.seq}\n`)
}

/** A fresh address: `@name` (abstract socket) on Linux, a socket file or a named pipe elsewhere. */
function newAddress(): string {
  const name = `baton-wake-${process.pid}-${randomBytes(8).toString('hex')}`
  if (process.platform === 'linux') return `@${name}`
  if (process.platform === 'win32') return `\\\\.\\pipe\\${name}`
  return join(tmpdir(), `${name}.sock`)
}

/** What `listen` and `connect` take for an address (`@name` is `\0name`, Linux's abstract namespace). */
function socketPath(address: string): string {
  return address.startsWith('@') ? `\u0000${address.slice(1)}` : address
}

/** Only addresses this module makes are dialled (a row of the file is no reason to connect anywhere else). */
function isAddress(address: string): boolean {
  return /(^@|[\\/])baton-wake-[0-9]+-[0-9a-f]{16}(\.sock)?$/.test(address)
}
