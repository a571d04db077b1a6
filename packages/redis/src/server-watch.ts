import type { Redis } from 'ioredis'
import { readRunId, readServerFacts, type ServerFacts } from './server-facts.js'

/**
 * Reads the server at connect and re-reads its `run_id` after every reconnect of the
 * client. A new run id means the server restarted (or a failover reached another node):
 * whatever was granted before may be gone, so `onRestart` fires.
 */
export class ServerWatch {
  readonly #client: Redis
  readonly #onRestart: () => void
  #runId: string | undefined

  constructor(client: Redis, onRestart: () => void) {
    this.#client = client
    this.#onRestart = onRestart
  }

  /** Reads the facts once (the client must be ready) and starts watching reconnects. */
  async start(): Promise<ServerFacts> {
    const facts = await readServerFacts(this.#client)
    this.#runId = facts.runId
    this.#client.off('ready', this.#onReady)
    this.#client.on('ready', this.#onReady)
    return facts
  }

  /** Stops watching. */
  stop(): void {
    this.#client.off('ready', this.#onReady)
  }

  readonly #onReady = (): void => {
    readRunId(this.#client)
      .then((runId) => {
        if (runId === undefined) return
        const restarted = this.#runId !== undefined && runId !== this.#runId
        this.#runId = runId
        if (restarted) this.#onRestart()
      })
      .catch(() => undefined) // the next reconnect checks again, against the last known id
  }
}
