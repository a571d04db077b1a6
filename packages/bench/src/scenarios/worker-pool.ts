import type { ChildProcess } from 'node:child_process'
import { endWorker, forkWorker, isHello, nextMessage } from '../worker-process.js'

/**
 * The handoff's worker processes, kept across rounds so that a run pays for process
 * start-up (and module loading) once, not once per contender. A round that fails
 * discards the pool; the next round forks fresh workers.
 */
export class WorkerPool {
  readonly #size: number
  #children: ChildProcess[] = []

  constructor(size: number) {
    this.#size = size
  }

  /** Live workers, forking replacements for any that exited; each has said hello. */
  async workers(): Promise<readonly ChildProcess[]> {
    const alive = (c: ChildProcess) => c.exitCode === null && c.signalCode === null
    if (this.#children.length === this.#size && this.#children.every(alive)) return this.#children
    await this.discard()
    const children = Array.from({ length: this.#size }, () =>
      forkWorker('scenarios/handoff-worker'),
    )
    this.#children = children
    await Promise.all(children.map((c) => nextMessage(c, isHello, 60_000)))
    return children
  }

  /** Ends every worker now (by PID: SIGTERM, then SIGKILL after a grace period). */
  async discard(): Promise<void> {
    const children = this.#children
    this.#children = []
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM')
    await Promise.all(children.map((c) => endWorker(c, 3_000)))
  }

  /** Asks every worker to exit after its round and waits for them (bounded). */
  async close(): Promise<void> {
    const children = this.#children
    this.#children = []
    for (const c of children) if (c.connected) c.send({ type: 'exit' })
    await Promise.all(children.map((c) => endWorker(c, 5_000)))
  }
}
