import { type ChildProcess, fork } from 'node:child_process'
import { join } from 'node:path'
import type { ClientConfig, ToHarness } from '../client/client-config.js'
import type { HistoryEvent } from '../history.js'

/** The built client entry (children run plain Node on dist/, see ensureBuilt). */
export const CLIENT_MAIN = join(import.meta.dirname, '../client/client-main.js').replace(
  /\/src\/client\//,
  '/dist/client/',
)

/** One forked client process and what the harness saw of it live. */
export class ClientProcess {
  readonly name: string
  readonly child: ChildProcess
  readonly exited: Promise<void>
  /** The handle the client holds right now (grant seen, release not yet). */
  holding: { op: number; t: number } | undefined
  grants = 0
  #stderr = ''
  readonly #started: Promise<void>
  readonly #listeners = new Set<(e: HistoryEvent) => void>()

  constructor(config: ClientConfig) {
    this.name = config.client
    this.child = fork(CLIENT_MAIN, [JSON.stringify(config)], {
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      execArgv: [],
      serialization: 'json',
    })
    this.child.stderr?.on('data', (chunk: Buffer) => {
      this.#stderr = (this.#stderr + chunk.toString()).slice(-8_000)
    })
    this.exited = new Promise((resolve) => this.child.once('exit', () => resolve()))
    this.#started = new Promise((resolve, reject) => {
      const onEvent = (e: HistoryEvent) => {
        if (e.type === 'start') resolve()
      }
      this.#listeners.add(onEvent)
      this.child.once('exit', (code, signal) =>
        reject(
          new Error(
            `client ${this.name} exited (${code ?? signal}) before starting:\n${this.#stderr}`,
          ),
        ),
      )
    })
    this.#started.catch(() => undefined)
    this.child.on('message', (m: ToHarness) => {
      if (m.kind !== 'event') return
      const e = m.event as HistoryEvent
      if (e.type === 'grant') {
        this.holding = { op: e.op, t: e.t }
        this.grants++
      } else if (e.type === 'release' && this.holding?.op === e.op) this.holding = undefined
      for (const fn of this.#listeners) fn(e)
    })
  }

  get pid(): number {
    return this.child.pid ?? 0
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null
  }

  get stderr(): string {
    return this.#stderr
  }

  started(): Promise<void> {
    return this.#started
  }

  onEvent(fn: (e: HistoryEvent) => void): () => void {
    this.#listeners.add(fn)
    return () => this.#listeners.delete(fn)
  }

  signal(signal: NodeJS.Signals): void {
    if (this.alive) process.kill(this.pid, signal)
  }

  /** Asks the client to finish its current operation and exit; SIGKILL after `graceMs`. */
  async stop(graceMs: number): Promise<void> {
    if (!this.alive) return
    process.kill(this.pid, 'SIGCONT')
    if (this.child.connected) this.child.send({ kind: 'stop' })
    const timer = setTimeout(() => this.signal('SIGKILL'), graceMs)
    await this.exited
    clearTimeout(timer)
  }
}
