import { createHash } from 'node:crypto'
import { type Cluster, Command, type Redis } from 'ioredis'

/** `numkeys` then the keys of one script call, built once per lock (see `LockKeyCache`). */
export type ScriptKeys = readonly (string | number)[]

/**
 * One Lua script sent as `EVALSHA` in a `Command` built here, for the uncontended path
 * (acquire and release of the mutex). ioredis' `defineCommand` copies the arguments three
 * times per call, adds a NOSCRIPT `.catch` (one more promise per call) and a reject closure;
 * here the keys come as one array made once per lock, the arguments are copied once (by
 * `Command`), and a NOSCRIPT reply (a new connection, a restarted server, `SCRIPT FLUSH`:
 * the script did not run) is answered by one `EVAL` of the body, which caches it again.
 * The scripts and their arguments are the ones `defineScripts` defines.
 */
export class ScriptCall {
  readonly #sha: string
  readonly #lua: string

  constructor(lua: string) {
    this.#lua = lua
    this.#sha = createHash('sha1').update(lua).digest('hex')
  }

  /** Runs the script with `keys` (`numkeys` first) and `argv`; resolves with its raw reply. */
  async run(
    client: Redis | Cluster,
    keys: ScriptKeys,
    argv: readonly (string | number)[],
  ): Promise<unknown> {
    // Command flattens its arguments one level into a new array: neither array is changed.
    const args = [keys, argv] as Array<Array<string | number>>
    const command = new ScriptCommand('evalsha', [this.#sha, ...args])
    try {
      return await client.sendCommand(command)
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err
      const again = new ScriptCommand('eval', [this.#lua, ...args])
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
 * A command whose client-side timeout (ioredis' `commandTimeout`, which ioredis applies
 * by calling `setTimeout(ms)` when it sends the command) is kept in `Deadlines` instead of
 * a Node timer of its own: same error, same moment.
 */
class ScriptCommand extends Command {
  #deadlines: Deadlines | undefined

  override setTimeout(ms: number): void {
    if (this.#deadlines !== undefined) return // resent (a cluster redirection): the first send counts
    this.#deadlines = deadlinesOf(ms)
    this.#deadlines.add(this)
  }

  /** Rejects as ioredis' own command timeout does, unless the reply came first. */
  expire(): void {
    if (!this.isResolved) this.reject(new Error('Command timed out'))
  }

  /** The reply (or an error) arrived: no timeout any more. */
  settled(): void {
    this.#deadlines?.delete(this)
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
 */
class Deadlines {
  readonly #ms: number
  /** Pending commands and their deadlines (monotonic ms), in send order. */
  readonly #pending = new Map<ScriptCommand, number>()
  #timer: NodeJS.Timeout | undefined

  constructor(ms: number) {
    this.#ms = ms
  }

  add(command: ScriptCommand): void {
    this.#pending.set(command, performance.now() + this.#ms)
    if (this.#timer === undefined) this.#arm(this.#ms)
  }

  delete(command: ScriptCommand): void {
    this.#pending.delete(command)
  }

  #arm(ms: number): void {
    // Unref'd: a pending command's socket keeps the process alive, a finished one must not.
    this.#timer = setTimeout(this.#expire, Math.max(1, Math.ceil(ms))).unref()
  }

  readonly #expire = (): void => {
    this.#timer = undefined
    const nowMs = performance.now()
    for (const [command, atMs] of this.#pending) {
      if (atMs > nowMs) {
        this.#arm(atMs - nowMs)
        return
      }
      this.#pending.delete(command)
      command.expire()
    }
  }
}
