import type { HistoryEvent } from '../src/history.js'

/**
 * Hand-made histories for the checker tests: `h.grant('a', 1, 0, 100, 5)` is client a's op 1
 * granted at t=0, valid until 100, fence 5.
 */
export class History {
  readonly events: HistoryEvent[] = []

  acquire(client: string, op: number, t: number, waitMs: number): this {
    this.events.push({ type: 'acquire', client, op, t, waitMs })
    return this
  }
  grant(client: string, op: number, t: number, validUntil: number, fence: number): this {
    this.events.push({ type: 'grant', client, op, t, validUntil, fence: String(fence) })
    return this
  }
  extend(client: string, op: number, t: number, validUntil: number): this {
    this.events.push({ type: 'extend', client, op, t, validUntil })
    return this
  }
  write(client: string, op: number, t: number, fence: number, value: number): this {
    this.events.push({ type: 'write', client, op, t, fence: String(fence), value })
    return this
  }
  /** An `isValid()` check that passed at `t` (logged at `t`, or at `loggedAt` after a stop). */
  valid(client: string, op: number, t: number, validUntil: number, loggedAt = t): this {
    this.events.push({ type: 'valid', client, op, t: loggedAt, checkedAt: t, validUntil })
    return this
  }
  invalid(client: string, op: number, t: number): this {
    this.events.push({ type: 'invalid', client, op, t })
    return this
  }
  lost(client: string, op: number, t: number): this {
    this.events.push({ type: 'lost', client, op, t, reason: 'LOCK_LOST' })
    return this
  }
  release(client: string, op: number, t: number): this {
    this.events.push({ type: 'release', client, op, t })
    return this
  }
  lag(client: string, from: number, to: number): this {
    this.events.push({ type: 'lag', client, t: to, from, to })
    return this
  }
  push(e: HistoryEvent): this {
    this.events.push(e)
    return this
  }
}
