import type { Redis } from 'ioredis'

/** One waiter's handle on a channel: sleeps until woken by a release message, a deadline or abort. */
export interface Wakeup {
  /** Resolves once the SUBSCRIBE is confirmed on every node, or at `untilMs` (the backstop covers the rest). */
  subscribed(untilMs: number, signal: AbortSignal): Promise<void>
  /** Call right before an attempt: a message arriving after it ends the next `sleep` at once. */
  arm(): void
  /** Sleeps until `untilMs`, a release message on the channel (from any node) or abort. */
  sleep(untilMs: number, signal: AbortSignal): Promise<void>
  leave(): void
}

interface Channel {
  readonly sleepers: Set<() => void>
  /** Messages (and resubscriptions) seen on the channel so far. */
  generation: number
  waiters: number
  subscribed: Promise<void>
  linger: NodeJS.Timeout | undefined
}

/**
 * Push wake-ups for the quorum driver: one subscriber connection per node, created on the
 * first waiter; a release PUBLISHes on every node, so a waiter wakes on whichever message
 * comes first. After a subscriber reconnects every waiter wakes once (messages may have
 * been missed); the holder's PTTL and the plain layout's polling are the backstops.
 */
export class QuorumWakeups {
  readonly #create: Array<() => Redis>
  readonly #lingerMs: number
  readonly #channels = new Map<string, Channel>()
  #subscribers: Redis[] | undefined
  #closed = false

  constructor(create: Array<() => Redis>, lingerMs: number) {
    this.#create = create
    this.#lingerMs = lingerMs
  }

  get waiterCount(): number {
    let n = 0
    for (const c of this.#channels.values()) n += c.waiters
    return n
  }

  enter(name: string): Wakeup {
    let channel = this.#channels.get(name)
    if (channel === undefined) {
      const subscribers = this.#connections()
      channel = {
        sleepers: new Set(),
        generation: 0,
        waiters: 0,
        subscribed: Promise.allSettled(subscribers.map((s) => s.subscribe(name))).then(
          () => undefined,
        ),
        linger: undefined,
      }
      this.#channels.set(name, channel)
    }
    clearTimeout(channel.linger)
    channel.linger = undefined
    channel.waiters++
    const current = channel
    let left = false
    let armed = current.generation
    return {
      subscribed: (untilMs, signal) =>
        sleepUntil(untilMs, signal, (wake) => {
          current.subscribed.then(wake, wake)
          return undefined
        }),
      arm: () => {
        armed = current.generation
      },
      sleep: (untilMs, signal) => {
        if (this.#closed || current.generation !== armed) return Promise.resolve()
        return sleepUntil(untilMs, signal, (wake) => {
          current.sleepers.add(wake)
          return () => current.sleepers.delete(wake)
        })
      },
      leave: () => {
        if (left) return
        left = true
        current.waiters--
        if (current.waiters > 0 || this.#closed) return
        current.linger = setTimeout(() => this.#unsubscribe(name, current), this.#lingerMs)
        current.linger.unref()
      },
    }
  }

  close(): void {
    this.#closed = true
    for (const channel of this.#channels.values()) {
      clearTimeout(channel.linger)
      for (const wake of [...channel.sleepers]) wake()
    }
    this.#channels.clear()
    for (const s of this.#subscribers ?? []) s.disconnect()
    this.#subscribers = undefined
  }

  #connections(): Redis[] {
    if (this.#subscribers !== undefined) return this.#subscribers
    this.#subscribers = this.#create.map((create) => {
      const subscriber = create()
      subscriber.on('error', () => {}) // reconnects by itself; waiters fall back on the backstops
      subscriber.on('message', (channel: string) => this.#wake(channel))
      subscriber.on('ready', () => {
        for (const name of this.#channels.keys()) this.#wake(name)
      })
      return subscriber
    })
    return this.#subscribers
  }

  #wake(name: string): void {
    const channel = this.#channels.get(name)
    if (channel === undefined) return
    channel.generation++
    for (const wake of [...channel.sleepers]) wake()
  }

  #unsubscribe(name: string, channel: Channel): void {
    if (channel.waiters > 0 || this.#channels.get(name) !== channel) return
    this.#channels.delete(name)
    for (const s of this.#subscribers ?? []) s.unsubscribe(name).catch(() => undefined)
  }
}

/**
 * Resolves at `untilMs`, on abort, or when `wakeOn`'s wake is called, whichever comes first,
 * and then drops the others: the timer, the abort listener and (through what `wakeOn`
 * returns) the wake's registration. A waiter woken by release messages sleeps again after
 * each refused attempt, so a timer or listener left behind per sleep would pile up on the
 * request's signal for as long as the holder's PTTL.
 */
function sleepUntil(
  untilMs: number,
  signal: AbortSignal,
  wakeOn?: (wake: () => void) => (() => unknown) | undefined,
): Promise<void> {
  const ms = Math.min(untilMs - performance.now(), 2 ** 31 - 1)
  if (ms <= 0 || signal.aborted) return Promise.resolve()
  return new Promise<void>((resolve) => {
    let settled = false
    let unregister: (() => unknown) | undefined
    const done = () => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      unregister?.()
      resolve()
    }
    const timer = setTimeout(done, ms)
    timer.unref()
    signal.addEventListener('abort', done, { once: true })
    unregister = wakeOn?.(done)
    if (settled) unregister?.()
  })
}
