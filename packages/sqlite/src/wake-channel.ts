import { randomBytes } from 'node:crypto'
import { unlinkSync } from 'node:fs'
import { createConnection, createServer, type Server, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { QueueHead } from './queue-head.js'

/** A waiter asleep on its ticket, or a wake that came while it was not asleep. */
interface Ticket {
  wake: ((pushed: boolean) => void) | undefined
  pending: boolean
}

/** Most connections one driver keeps open to other processes' channels (the least recently used goes first). */
const MAX_PEERS = 64
/** Unsent bytes after which a peer that does not read (a stopped process) is cut off. */
const MAX_UNSENT_BYTES = 4_096

/** This process's channels by address, so a wake between two drivers of one process takes no socket. */
const local = new Map<string, WakeChannel>()

/**
 * Push wake-ups for one driver's waiters, across processes on one host. Each queued
 * ticket in the database names the address of its driver's channel: a local socket
 * (Linux: an abstract Unix socket, which leaves no file behind; elsewhere a Unix socket in
 * the temp directory, or a named pipe on Windows). A release reads the head of the key's
 * queue in its DELETE and sends that ticket's number there (`send`), after the DELETE
 * committed; the channel wakes the one sleeping waiter. A wake that finds its waiter awake
 * (between two tries) is kept for its next sleep, so none is lost. The connections a
 * driver opens to other processes' channels stay open (up to `MAX_PEERS`, until either
 * side closes), so a wake is one write on a connected socket, read by the waiter in one
 * turn of its event loop; a channel also takes a connection per wake (earlier releases
 * connect, write and end). The bounded poll stays as the backstop: a channel that cannot
 * listen, or a process that cannot reach another's (another network namespace or user),
 * only makes the handoff slower.
 */
export class WakeChannel {
  readonly #tickets = new Map<bigint, Ticket>()
  /** Open connections to other processes' channels, by address, least recently used first. */
  readonly #peers = new Map<string, Socket>()
  /** Connections other processes opened to this channel. */
  readonly #accepted = new Set<Socket>()
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
    this.#tickets.get(seq)?.wake?.(false)
    this.#tickets.delete(seq)
  }

  /** Wakes the waiter of `seq` in this driver; remembered for its next sleep if it is awake. */
  wake(seq: bigint): void {
    const ticket = this.#tickets.get(seq)
    if (ticket === undefined) return
    if (ticket.wake !== undefined) ticket.wake(true)
    else ticket.pending = true
  }

  /**
   * Sleeps up to `ms`, less when `seq` is woken (or was, since its last sleep) or `signal`
   * aborts; true when a wake ended it. The timer keeps the process alive (a pending acquire
   * is work); the sockets do not.
   */
  sleep(seq: bigint, ms: number, signal: AbortSignal): Promise<boolean> {
    const ticket = this.#tickets.get(seq)
    if (signal.aborted || ticket === undefined) return Promise.resolve(false)
    if (ticket.pending) {
      ticket.pending = false
      return Promise.resolve(true)
    }
    return new Promise((resolve) => {
      const done = (pushed: boolean) => {
        clearTimeout(timer)
        signal.removeEventListener('abort', aborted)
        if (ticket.wake === done) ticket.wake = undefined
        resolve(pushed)
      }
      const aborted = () => done(false)
      const timer = setTimeout(aborted, Math.max(0, ms))
      ticket.wake = done
      signal.addEventListener('abort', aborted, { once: true })
    })
  }

  /**
   * Wakes the ticket at the head of a queue: directly when its channel is in this process,
   * else with one line on this driver's connection to its socket (opened on first use).
   * Fire and forget: a waiter that is gone, or cannot be reached, is found by its own poll
   * or drops out when its ticket expires. Call it only once the change that frees the key
   * has committed: the woken waiter tries at once and does not try again before its next poll.
   */
  send(head: QueueHead | undefined): void {
    if (head === undefined || head.wake === null) return
    const channel = local.get(head.wake)
    if (channel !== undefined) {
      channel.wake(head.seq)
      return
    }
    if (this.#closed || !isAddress(head.wake)) return
    const socket = this.#peer(head.wake)
    if (socket.writableLength > MAX_UNSENT_BYTES) {
      this.#peers.delete(head.wake)
      socket.destroy()
      return
    }
    socket.write(`${head.seq}\n`)
  }

  /** Stops listening (and removes the socket file where there is one); idempotent. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    for (const seq of [...this.#tickets.keys()]) this.unregister(seq)
    // wakes written just before (close() wakes the next in line) still go out
    for (const socket of this.#peers.values()) socket.end()
    this.#peers.clear()
    for (const socket of this.#accepted) socket.destroy()
    this.#accepted.clear()
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

  /** The open connection to `address`, made now if there is none. */
  #peer(address: string): Socket {
    const open = this.#peers.get(address)
    if (open !== undefined) this.#peers.delete(address)
    if (open?.writable) {
      this.#peers.set(address, open)
      return open
    }
    if (this.#peers.size >= MAX_PEERS) {
      const [oldest, socket] = this.#peers.entries().next().value as [string, Socket]
      this.#peers.delete(oldest)
      socket.end()
    }
    const socket = createConnection(socketPath(address))
    const forget = () => {
      if (this.#peers.get(address) === socket) this.#peers.delete(address)
    }
    socket.on('error', forget)
    socket.on('close', forget)
    // the channel never writes back; reading lets its close (the waiter's driver closed) end ours
    socket.resume()
    socket.unref()
    this.#peers.set(address, socket)
    return socket
  }

  #receive(socket: Socket): void {
    if (this.#closed) {
      socket.destroy()
      return
    }
    this.#accepted.add(socket)
    socket.on('close', () => this.#accepted.delete(socket))
    socket.unref()
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
