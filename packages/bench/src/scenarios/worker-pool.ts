import type { ChildProcess } from 'node:child_process'
import { endWorker, forkWorker, isHello, nextMessage } from '../worker-process.js'

/**
 * The handoff's worker processes, kept across rounds so that a run pays for process
 * start-up (and module loading) once, not once per contender and process count. A round
 * asks for `count` workers and gets the first `count` of the pool (forked on first need,
 * so the pool grows to the largest count asked for). A round that fails discards the
 * pool; the next round forks fresh workers.
 */
export class WorkerPool {
  #children: ChildProcess[] = []

  /** `count` live workers, forking what is missing; each has said hello. */
  async workers(count: number): Promise<readonly ChildProcess[]> {
    const alive = (c: ChildProcess) => c.exitCode === null && c.signalCode === null
    if (!this.#children.every(alive)) await this.discard()
    const forked: ChildProcess[] = []
    while (this.#children.length < count) {
      const child = forkWorker('scenarios/handoff-worker')
      forked.push(child)
      this.#children.push(child)
    }
    await Promise.all(forked.map((c) => nextMessage(c, isHello, 60_000)))
    return this.#children.slice(0, count)
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
