import { randomBytes } from 'node:crypto'
import type { Redis } from 'ioredis'
import { parseHandOff } from './scripts.js'

/** This driver's waiters on one lock's channel, by owner id. */
interface Channel {
  readonly name: string
  /** `<name>:<tag>`, where grants to this driver's tagged waiters are published; undefined when untagged (semaphores). */
  readonly own: string | undefined
  readonly tickets: Map<string, Ticket>
  /** Settles when the SUBSCRIBE is confirmed (or failed: the PTTL backstop still works). */
  subscribed: Promise<void>
  /** True once the SUBSCRIBE was confirmed. */
  ready: boolean
  /** Set while no waiter is left but the channel is still subscribed (a handoff soon after costs no SUBSCRIBE). */
  linger: NodeJS.Timeout | undefined
}

/** Why a ticket's `wait` returned. */
export type Wake = 'granted' | 'recheck' | 'timer' | 'aborted'

/**
 * One shared subscriber connection per driver. The fair queue itself lives in Redis; a
 * release hands the lock to the head there and publishes `<owner>:<fence>:<PX>` on the
 * channel its queue entry names: `<lock channel>:<tag>` for this driver's waiters (the tag
 * is the driver's own, random), so no other process wakes; this listener delivers it to
 * that owner's ticket only, and nobody retries. Each lock's own channel is subscribed in the
 * same SUBSCRIBE: versions before tags (and semaphores) publish every grant there. Channels
 * are subscribed on demand and unsubscribed `lingerMs` after their last waiter left; after
 * a reconnect every ticket re-checks once (a hand-off may have been missed).
 */
export class ReleaseListener {
  /** This driver's tag in its waiters' queue entries (8 base64url characters). */
  readonly tag = randomBytes(6).toString('base64url')
  readonly #create: () => Redis
  readonly #lingerMs: number
  /** By lock channel name. */
  readonly #channels = new Map<string, Channel>()
  /** The same channels by their tagged name. */
  readonly #own = new Map<string, Channel>()
  #subscriber: Redis | undefined
  #closed = false

  constructor(create: () => Redis, lingerMs: number) {
    this.#create = create
    this.#lingerMs = lingerMs
  }

  /** Number of channels subscribed (with waiters or lingering). */
  get channelCount(): number {
    return this.#channels.size
  }

  /** Number of waiters across all keys. */
  get waiterCount(): number {
    let count = 0
    for (const channel of this.#channels.values()) count += channel.tickets.size
    return count
  }

  /** The subscriber connection, once created (tests cut it). */
  get subscriber(): Redis | undefined {
    return this.#subscriber
  }

  get closed(): boolean {
    return this.#closed
  }

  /** True while `name` is subscribed (confirmed), with waiters or lingering after them. */
  isSubscribed(name: string): boolean {
    return this.#channels.get(name)?.ready === true
  }

  /**
   * Registers `owner` as a waiter on `name`, subscribing first if it is the channel's first
   * (with `tagged`, to `<name>:<tag>` too: the waiter queues with this driver's tag).
   */
  enter(name: string, owner: string, tagged: boolean): Ticket {
    if (this.#closed) return new Ticket(Promise.resolve(), () => undefined)
    let channel = this.#channels.get(name)
    if (channel === undefined) {
      const created: Channel = {
        name,
        own: tagged ? `${name}:${this.tag}` : undefined,
        tickets: new Map(),
        subscribed: Promise.resolve(),
        ready: false,
        linger: undefined,
      }
      const names = created.own === undefined ? [name] : [name, created.own]
      created.subscribed = this.#connection()
        .subscribe(...names)
        .then(
          () => {
            created.ready = true
          },
          () => undefined,
        )
      channel = created
      this.#channels.set(name, channel)
      if (created.own !== undefined) this.#own.set(created.own, channel)
    }
    clearTimeout(channel.linger)
    channel.linger = undefined
    const entered = channel
    const ticket = new Ticket(channel.subscribed, () => this.#leave(entered, owner, ticket))
    channel.tickets.set(owner, ticket)
    return ticket
  }

  /** Wakes every waiter (they give up) and closes the subscriber connection. */
  close(): void {
    this.#closed = true
    for (const channel of this.#channels.values()) {
      clearTimeout(channel.linger)
      for (const ticket of channel.tickets.values()) ticket.wake('recheck')
      channel.tickets.clear()
    }
    this.#channels.clear()
    this.#own.clear()
    this.#subscriber?.disconnect()
    this.#subscriber = undefined
  }

  #connection(): Redis {
    if (this.#subscriber !== undefined) return this.#subscriber
    const subscriber = this.#create()
    subscriber.on('error', () => {}) // reconnects on its own; waiters fall back on the PTTL backstop
    subscriber.on('message', (channel: string, message: string) =>
      this.#onMessage(channel, message),
    )
    // On every (re)connect: subscribe again (idempotent), and after a reconnect let every
    // waiter re-check once. Not on the first connect: the SUBSCRIBEs queued until then are
    // sent on it, and a spurious re-check would cost each waiter a script.
    let connects = 0
    subscriber.on('ready', () => {
      connects += 1
      this.#resubscribe(subscriber, connects > 1)
    })
    this.#subscriber = subscriber
    return subscriber
  }

  /** Subscribes every channel again; after a reconnect lets every waiter re-check (messages may have been missed). */
  #resubscribe(subscriber: Redis, recheck: boolean): void {
    const names = [...this.#channels.keys(), ...this.#own.keys()]
    const done = names.length === 0 ? Promise.resolve() : subscriber.subscribe(...names)
    done
      .catch(() => undefined)
      .finally(() => {
        if (!recheck) return
        for (const name of names) {
          for (const ticket of this.#channels.get(name)?.tickets.values() ?? []) {
            ticket.wake('recheck')
          }
        }
      })
      .catch(() => undefined)
  }

  #onMessage(name: string, message: string): void {
    const handOff = parseHandOff(message)
    const channel = this.#channels.get(name) ?? this.#own.get(name)
    if (handOff === undefined || channel === undefined) return
    for (const [owner, ticket] of channel.tickets) {
      if (owner === handOff.owner) ticket.grant(handOff.fence)
      else ticket.holderFor(handOff.pxMs)
    }
  }

  #leave(channel: Channel, owner: string, ticket: Ticket): void {
    if (channel.tickets.get(owner) !== ticket) return
    channel.tickets.delete(owner)
    if (channel.tickets.size > 0 || this.#channels.get(channel.name) !== channel) return
    clearTimeout(channel.linger)
    channel.linger = setTimeout(() => this.#unsubscribe(channel), this.#lingerMs)
    channel.linger.unref()
  }

  #unsubscribe(channel: Channel): void {
    channel.linger = undefined
    if (channel.tickets.size > 0 || this.#channels.get(channel.name) !== channel) return
    this.#channels.delete(channel.name)
    if (channel.own === undefined) {
      this.#subscriber?.unsubscribe(channel.name).catch(() => undefined)
      return
    }
    this.#own.delete(channel.own)
    this.#subscriber?.unsubscribe(channel.name, channel.own).catch(() => undefined)
  }
}

/** One waiter's registration: the hand-off addressed to it, and its sleeps. */
export class Ticket {
  /** Settles once the channel's SUBSCRIBE is confirmed (or failed). */
  readonly subscribed: Promise<void>
  readonly #leave: () => void
  /** The fence of the lock handed to this waiter, once its message arrived. */
  #fence: string | undefined
  #recheck = false
  #wake: ((why: Wake) => void) | undefined
  /** The current sleep's timer and end, while sleeping. */
  #timer: NodeJS.Timeout | undefined
  #untilMs = 0

  constructor(subscribed: Promise<void>, leave: () => void) {
    this.subscribed = subscribed
    this.#leave = leave
  }

  /** The fence of the lock handed to this waiter (its message arrived), else undefined. */
  get fence(): string | undefined {
    return this.#fence
  }

  /**
   * Sleeps until the lock is handed to this waiter ('granted'), a reconnect asks for a
   * re-check ('recheck'), monotonic time `untilMs` ('timer') or `signal` aborts.
   */
  wait(untilMs: number, signal: AbortSignal): Promise<Wake> {
    if (this.#fence !== undefined) return Promise.resolve('granted')
    if (this.#recheck) {
      this.#recheck = false
      return Promise.resolve('recheck')
    }
    if (signal.aborted) return Promise.resolve('aborted')
    // setTimeout treats delays above 2^31-1 ms as 1 ms: cap them (waitMs may be Infinity).
    const ms = Math.min(untilMs - performance.now(), 2 ** 31 - 1)
    if (ms <= 0) return Promise.resolve('timer')
    return new Promise<Wake>((resolve) => {
      const done = (why: Wake) => {
        clearTimeout(this.#timer)
        this.#timer = undefined
        signal.removeEventListener('abort', onAbort)
        this.#wake = undefined
        this.#recheck = false
        resolve(why)
      }
      const onAbort = () => done('aborted')
      this.#arm(done, ms)
      signal.addEventListener('abort', onAbort, { once: true })
      this.#wake = done
    })
  }

  /**
   * The lock went to another waiter with a PX of `pxMs`: a sleep planned past that expiry
   * ends at it instead (that waiter may have died; its lock then just runs out).
   */
  holderFor(pxMs: number): void {
    const wake = this.#wake
    const untilMs = performance.now() + pxMs + 1
    if (wake === undefined || untilMs >= this.#untilMs) return
    this.#arm(wake, untilMs - performance.now())
  }

  #arm(done: (why: Wake) => void, ms: number): void {
    clearTimeout(this.#timer)
    this.#untilMs = performance.now() + ms
    this.#timer = setTimeout(done, ms, 'timer')
    this.#timer.unref()
  }

  /** Resolves once subscribed, at monotonic time `untilMs`, or on abort, whichever is first. */
  async untilSubscribed(untilMs: number, signal: AbortSignal): Promise<void> {
    let subscribed = false
    void this.subscribed.then(() => {
      subscribed = true
      this.#wake?.('timer')
    })
    await Promise.resolve()
    if (!subscribed) await this.wait(untilMs, signal)
  }

  /** The lock was handed to this waiter with `fence`. */
  grant(fence: string): void {
    this.#fence = fence
    this.wake('granted')
  }

  /** Ends the current sleep (or the next one, at once). */
  wake(why: Wake): void {
    const wake = this.#wake
    if (wake === undefined) {
      if (why === 'recheck') this.#recheck = true
      return
    }
    wake(why)
  }

  /** Unregisters from the channel. Idempotent. */
  leave(): void {
    this.#leave()
  }
}
