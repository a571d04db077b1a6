import { createHash } from 'node:crypto'
import { type Cluster, Command, type Redis } from 'ioredis'
import { slotOf } from './slot.js'

/**
 * `numkeys` and the keys of one script call, with their RESP encoding, made once per lock
 * (see `LockKeyCache`): a call sends them as this text, not as arguments ioredis encodes.
 */
export class ScriptKeys {
  readonly keys: readonly string[]
  /** `$1\r\n6\r\n$76\r\n<lock>\r\n...`: numkeys and the keys as bulk strings. */
  readonly resp: string
  /** The keys' Redis Cluster slot (all share one hash tag), computed when a Cluster first asks. */
  #slot: number | undefined

  constructor(keys: readonly string[]) {
    this.keys = keys
    this.resp = respBulk(String(keys.length)) + keys.map(respBulk).join('')
  }

  /** The slot ioredis would compute from the first key (all of them share its hash tag). */
  get slot(): number {
    this.#slot ??= slotOf(this.keys[0] ?? '')
    return this.#slot
  }
}

/** One argument as a RESP bulk string: `$<bytes>\r\n<value>\r\n`. */
export function respBulk(value: string | number): string {
  const text = typeof value === 'string' ? value : String(value)
  return `$${Buffer.byteLength(text)}\r\n${text}\r\n`
}

/**
 * The arguments after the keys of one call, already RESP-encoded (`respBulk` of each, or
 * bulk strings a caller made once per lock), and how many there are.
 */
export interface ScriptArgs {
  readonly resp: string
  readonly count: number
}

/**
 * One Lua script sent as `EVALSHA` in a `Command` built here, for the uncontended path
 * (acquire and release of the mutex). ioredis' `defineCommand` copies the arguments three
 * times per call and encodes every one of them on every call (with six 76-byte key names:
 * about 5 µs per command, most of a cycle's client CPU over the floor); here the keys'
 * encoding is made once per lock, the other arguments come encoded, and the command is
 * written as that text. A NOSCRIPT reply (a new connection, a restarted server, `SCRIPT
 * FLUSH`: the script did not run) is answered by one `EVAL` of the body, which caches it
 * again. The scripts and their arguments are the ones `defineScripts` defines.
 */
export class ScriptCall {
  readonly #sha: string
  /** `$7\r\nevalsha\r\n$40\r\n<sha>\r\n`, and the same for `EVAL <body>`. */
  readonly #evalsha: string
  readonly #eval: string

  constructor(lua: string) {
    this.#sha = createHash('sha1').update(lua).digest('hex')
    this.#evalsha = respBulk('evalsha') + respBulk(this.#sha)
    this.#eval = respBulk('eval') + respBulk(lua)
  }

  /** Runs the script with `keys` and the encoded `args`; resolves with its raw reply. */
  async run(client: Redis | Cluster, keys: ScriptKeys, args: ScriptArgs): Promise<unknown> {
    const count = `*${2 + 1 + keys.keys.length + args.count}\r\n`
    const body = keys.resp + args.resp
    const command = new ScriptCommand('evalsha', count + this.#evalsha + body, keys)
    try {
      return await client.sendCommand(command)
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err
      const again = new ScriptCommand('eval', count + this.#eval + body, keys)
      try {
        return await client.sendCommand(again)
      } finally {
        again.settled()
      }
    } finally {
      command.settled()
    }
  }
}

/**
 * A script call written as the text `ScriptCall` made (`toWritable`), with the slot of its
 * keys for a Cluster. Its `args` are empty (ioredis reads them only for debug logs,
 * tracing and SELECT). Its client-side timeout (ioredis' `commandTimeout`, which ioredis
 * applies by calling `setTimeout(ms)` when it sends the command) is kept in `Deadlines`
 * instead of a Node timer of its own: same error, same moment.
 */
class ScriptCommand extends Command implements Pending {
  readonly #text: string
  readonly #keys: ScriptKeys
  #deadlines: Deadlines | undefined
  /** Linked by `Deadlines` while pending. */
  pendingAtMs = 0
  pendingPrev: Pending | undefined = undefined
  pendingNext: Pending | undefined = undefined

  constructor(name: 'evalsha' | 'eval', text: string, keys: ScriptKeys) {
    super(name)
    this.#text = text
    this.#keys = keys
  }

  override toWritable(): string {
    return this.#text
  }

  override getSlot(): number {
    return this.#keys.slot
  }

  override getKeys(): Array<string | Buffer> {
    return [...this.#keys.keys]
  }

  override setTimeout(ms: number): void {
    if (this.#deadlines !== undefined) return // resent (a cluster redirection): the first send counts
    this.#deadlines = deadlinesOf(ms)
    this.#deadlines.add(this)
  }

  /** Rejects as ioredis' own command timeout does, unless the reply came first. */
  expire(): void {
    if (!this.isResolved) this.reject(new Error('Command timed out'))
  }

  /** The reply (or an error) arrived: no timeout any more. Idempotent. */
  settled(): void {
    const deadlines = this.#deadlines
    if (deadlines === undefined) return
    this.#deadlines = undefined
    deadlines.delete(this)
  }
}

const deadlinesByMs = new Map<number, Deadlines>()

function deadlinesOf(ms: number): Deadlines {
  let deadlines = deadlinesByMs.get(ms)
  if (deadlines === undefined) {
    deadlines = new Deadlines(ms)
    deadlinesByMs.set(ms, deadlines)
  }
  return deadlines
}

/**
 * The pending commands of one timeout length. They expire in the order they were sent, so
 * one timer, armed for the oldest one's deadline, serves them all; it stays armed while
 * commands come and go, and re-arms for the oldest still pending when it fires. ioredis arms
 * and clears a timer per command instead: two per uncontended acquire and release.
 *
 * The pending commands are a list threaded through the commands themselves (`Pending`), in
 * send order: a settled command is unlinked at once and nothing long-lived points at it any
 * more. A `Map` (or `Set`) of them, which lives as long as the driver, kept its deleted
 * entries' commands reachable until the table's next rehash: with 16 keys in one process,
 * about 1.5 MB of settled commands survived each young-generation collection and went to
 * the old generation, and the collector took a fifth of the process's time.
 */
class Deadlines {
  readonly #ms: number
  #head: Pending | undefined
  #tail: Pending | undefined
  #timer: NodeJS.Timeout | undefined

  constructor(ms: number) {
    this.#ms = ms
  }

  add(command: Pending): void {
    command.pendingAtMs = performance.now() + this.#ms
    command.pendingPrev = this.#tail
    command.pendingNext = undefined
    if (this.#tail === undefined) this.#head = command
    else this.#tail.pendingNext = command
    this.#tail = command
    if (this.#timer === undefined) this.#arm(this.#ms)
  }

  /** Unlinks `command` (added here, not removed yet). */
  delete(command: Pending): void {
    const prev = command.pendingPrev
    const next = command.pendingNext
    if (prev === undefined) this.#head = next
    else prev.pendingNext = next
    if (next === undefined) this.#tail = prev
    else next.pendingPrev = prev
    command.pendingPrev = undefined
    command.pendingNext = undefined
  }

  #arm(ms: number): void {
    // Unref'd: a pending command's socket keeps the process alive, a finished one must not.
    this.#timer = setTimeout(this.#expire, Math.max(1, Math.ceil(ms))).unref()
  }

  readonly #expire = (): void => {
    this.#timer = undefined
    const nowMs = performance.now()
    for (let command = this.#head; command !== undefined; command = this.#head) {
      if (command.pendingAtMs > nowMs) {
        this.#arm(command.pendingAtMs - nowMs)
        return
      }
      command.settled()
      command.expire()
    }
  }
}

/** A command as `Deadlines` links it: its deadline and its neighbours in send order. */
interface Pending {
  pendingAtMs: number
  pendingPrev: Pending | undefined
  pendingNext: Pending | undefined
  /** Unlinks it from its `Deadlines` (idempotent). */
  settled(): void
  /** Rejects it as timed out, unless its reply came first. */
  expire(): void
}
