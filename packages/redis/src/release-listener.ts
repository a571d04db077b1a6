import type { Redis } from 'ioredis'

/** This driver's waiters on one channel, in arrival order. Only the head talks to the server. */
interface Queue {
  readonly channel: string
  readonly tickets: Ticket[]
  /** A release message (or a resubscription) arrived that the head has not yet acted on. */
  pending: boolean
  /** Monotonic time at which the last seen holder's lease runs out (the PTTL backstop). */
  holderUntilMs: number
  /** Settles when the SUBSCRIBE is confirmed (or failed: the PTTL backstop still works). */
  subscribed: Promise<void>
  /** Set while the queue is empty but still subscribed (a handoff soon after costs no SUBSCRIBE). */
  linger: NodeJS.Timeout | undefined
}

/**
 * One shared subscriber connection per driver. Waiters on a key queue here in FIFO order;
 * the head alone retries, on a release message or when the holder's PTTL runs out, so N
 * local waiters cost one retry per release, not N (no stampede), and this driver's waiters
 * are served in arrival order. Channels are subscribed on demand and unsubscribed
 * `lingerMs` after their last waiter left.
 */
export class ReleaseListener {
  readonly #create: () => Redis
  readonly #subscribeWaitMs: number
  readonly #lingerMs: number
  readonly #queues = new Map<string, Queue>()
  #subscriber: Redis | undefined
  #closed = false

  constructor(create: () => Redis, subscribeWaitMs: number, lingerMs: number) {
    this.#create = create
    this.#subscribeWaitMs = subscribeWaitMs
    this.#lingerMs = lingerMs
  }

  /** Number of channels subscribed (with waiters or lingering). */
  get channelCount(): number {
    return this.#queues.size
  }

  /** Number of waiters across all keys. */
  get waiterCount(): number {
    let count = 0
    for (const queue of this.#queues.values()) count += queue.tickets.length
    return count
  }

  /** True while some waiter of this driver queues on `channel`. */
  hasWaiters(channel: string): boolean {
    return (this.#queues.get(channel)?.tickets.length ?? 0) > 0
  }

  /** The subscriber connection, once created (tests cut it). */
  get subscriber(): Redis | undefined {
    return this.#subscriber
  }

  /** Joins the queue of `channel`, subscribing first if this is its first waiter. */
  enter(channel: string): Ticket {
    let queue = this.#queues.get(channel)
    if (this.#closed) {
      // Closed: a ticket outside any queue, whose turn never comes.
      const orphan = {
        channel,
        tickets: [],
        pending: false,
        holderUntilMs: 0,
        subscribed: Promise.resolve(),
        linger: undefined,
      }
      return new Ticket(orphan, 0, () => undefined)
    }
    if (queue === undefined) {
      const subscriber = this.#connection()
      const subscribed = subscriber.subscribe(channel).then(
        () => undefined,
        () => undefined,
      )
      queue = {
        channel,
        tickets: [],
        pending: false,
        holderUntilMs: 0,
        subscribed,
        linger: undefined,
      }
      this.#queues.set(channel, queue)
    }
    clearTimeout(queue.linger)
    queue.linger = undefined
    // The first waiter tries the key only once subscribed, so a release that happens after
    // its attempt always sends a message it will see.
    if (queue.tickets.length === 0) queue.pending = true
    const ticket = new Ticket(queue, this.#subscribeWaitMs, (t) => this.#leave(t))
    queue.tickets.push(ticket)
    return ticket
  }

  /** Wakes every waiter (they give up) and closes the subscriber connection. */
  close(): void {
    this.#closed = true
    for (const queue of this.#queues.values()) {
      clearTimeout(queue.linger)
      const tickets = queue.tickets.splice(0)
      for (const t of tickets) t.wake()
    }
    this.#queues.clear()
    this.#subscriber?.disconnect()
    this.#subscriber = undefined
  }

  get closed(): boolean {
    return this.#closed
  }

  #connection(): Redis {
    if (this.#subscriber !== undefined) return this.#subscriber
    const subscriber = this.#create()
    subscriber.on('error', () => {}) // reconnects on its own; waiters fall back on the PTTL backstop
    subscriber.on('message', (channel: string) => this.#onRelease(channel))
    // On every (re)connect, including a first one after SUBSCRIBEs failed while the server
    // was unreachable: subscribe again (idempotent) and let every head re-check once.
    subscriber.on('ready', () => this.#resubscribe(subscriber))
    this.#subscriber = subscriber
    return subscriber
  }

  /** Subscribes every channel with a queue again, then lets every head re-check (messages may have been missed). */
  #resubscribe(subscriber: Redis): void {
    const channels = [...this.#queues.keys()]
    const done = channels.length === 0 ? Promise.resolve() : subscriber.subscribe(...channels)
    done
      .catch(() => undefined)
      .finally(() => {
        for (const channel of channels) this.#onRelease(channel)
      })
      .catch(() => undefined)
  }

  #onRelease(channel: string): void {
    const queue = this.#queues.get(channel)
    if (queue === undefined) return
    queue.pending = true
    queue.tickets[0]?.wake()
  }

  #leave(ticket: Ticket): void {
    const queue = ticket.queue
    const at = queue.tickets.indexOf(ticket)
    if (at < 0) return
    queue.tickets.splice(at, 1)
    if (queue.tickets.length > 0) {
      if (at === 0) queue.tickets[0]?.wake()
      return
    }
    clearTimeout(queue.linger)
    queue.linger = setTimeout(() => this.#unsubscribe(queue), this.#lingerMs)
    queue.linger.unref()
  }

  #unsubscribe(queue: Queue): void {
    queue.linger = undefined
    if (queue.tickets.length > 0 || this.#queues.get(queue.channel) !== queue) return
    this.#queues.delete(queue.channel)
    this.#subscriber?.unsubscribe(queue.channel).catch(() => undefined)
  }
}

/** One waiter's place in a queue. */
export class Ticket {
  readonly queue: Queue
  readonly #subscribeWaitMs: number
  readonly #leave: (t: Ticket) => void
  #wake: (() => void) | undefined

  constructor(queue: Queue, subscribeWaitMs: number, leave: (t: Ticket) => void) {
    this.queue = queue
    this.#subscribeWaitMs = subscribeWaitMs
    this.#leave = leave
  }

  /**
   * Resolves true when this waiter should try the key: it is the head and a release message
   * arrived or the holder's lease ran out. Resolves false at `deadlineMs` or on abort.
   */
  async turn(deadlineMs: number, signal: AbortSignal): Promise<boolean> {
    await this.#sleep(
      Math.min(deadlineMs, performance.now() + this.#subscribeWaitMs),
      signal,
      () => this.queue.subscribed,
    )
    for (;;) {
      if (signal.aborted || performance.now() >= deadlineMs || !this.#inQueue()) return false
      const head = this.queue.tickets[0] === this
      if (head && (this.queue.pending || performance.now() >= this.queue.holderUntilMs)) {
        this.queue.pending = false
        return true
      }
      const untilMs = head ? Math.min(deadlineMs, this.queue.holderUntilMs + 1) : deadlineMs
      await this.#sleep(untilMs, signal)
    }
  }

  /** Records the holder's remaining lease after a failed attempt (`pttlMs` < 0: no expiry seen). */
  holderFor(pttlMs: number, fallbackMs: number): void {
    this.queue.holderUntilMs = performance.now() + (pttlMs >= 0 ? pttlMs : fallbackMs)
  }

  /** Leaves the queue; the next waiter becomes head. Idempotent. */
  leave(): void {
    this.#leave(this)
  }

  /** Ends the current sleep, if any. */
  wake(): void {
    const wake = this.#wake
    this.#wake = undefined
    wake?.()
  }

  #inQueue(): boolean {
    return this.queue.tickets.includes(this)
  }

  async #sleep(untilMs: number, signal: AbortSignal, until?: () => Promise<void>): Promise<void> {
    // setTimeout treats delays above 2^31-1 ms as 1 ms: cap them (waitMs may be Infinity).
    const ms = Math.min(untilMs - performance.now(), 2 ** 31 - 1)
    if (ms <= 0 || signal.aborted) return
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer)
        signal.removeEventListener('abort', done)
        this.#wake = undefined
        resolve()
      }
      const timer = setTimeout(done, ms)
      timer.unref()
      signal.addEventListener('abort', done, { once: true })
      if (until === undefined) this.#wake = done
      else until().then(done, done)
    })
  }
}
