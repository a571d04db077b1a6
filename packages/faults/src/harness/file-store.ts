import type { ChildProcess } from 'node:child_process'
import { appendFileSync, writeFileSync } from 'node:fs'
import type { ToHarness } from '../client/client-config.js'
import { readJsonLines, type StoreEntry } from '../history.js'

/**
 * The fenced file store: a counter, the fence of its last accepted write and the highest fence
 * presented to it, owned by the harness process (so every decision is atomic); its write
 * decisions are logged to a JSON-lines file. A read records its fence; a write is accepted only
 * when its fence is greater than the last accepted one and not below any fence presented
 * before it, so once a newer holder has read, an older holder's write is refused.
 */
export class FileStore {
  readonly path: string
  #value = 0
  #fence = 0n
  #seen = 0n
  #seq = 0

  constructor(path: string) {
    this.path = path
    writeFileSync(path, '')
  }

  attach(child: ChildProcess): void {
    child.on('message', (m: ToHarness) => {
      if (m.kind !== 'store') return
      const result = m.op === 'read' ? this.read(m.fence) : this.write(m)
      if (child.connected) child.send({ kind: 'reply', id: m.id, result })
    })
  }

  read(fence: string): { value: number; fence: string } {
    const presented = BigInt(fence)
    if (presented > this.#seen) this.#seen = presented
    return { value: this.#value, fence: String(this.#fence) }
  }

  write(m: {
    fence: string
    readValue: number
    value: number
    client: string
    clientOp: number
  }): boolean {
    const fence = BigInt(m.fence)
    const accepted = fence > this.#fence && fence >= this.#seen
    const entry: StoreEntry = {
      seq: ++this.#seq,
      client: m.client,
      op: m.clientOp,
      fence: m.fence,
      readValue: m.readValue,
      value: m.value,
      accepted,
      lastFence: String(this.#fence),
      seenFence: String(this.#seen),
    }
    appendFileSync(this.path, `${JSON.stringify(entry)}\n`)
    if (accepted) {
      this.#fence = fence
      this.#seen = fence
      this.#value = m.value
    }
    return accepted
  }

  entries(): StoreEntry[] {
    return readJsonLines<StoreEntry>(this.path)
  }
}
