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
    try {
      return await client.sendCommand(new Command('evalsha', [this.#sha, ...args]))
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err
      return client.sendCommand(new Command('eval', [this.#lua, ...args]))
    }
  }
}
