import type { HistoryEvent, StoreEntry } from '../history.js'
import type { Violation } from './violation.js'
import { handleId, handleWindows } from './windows.js'

export interface StoreSummary {
  accepted: number
  /** Writes the store refused because their fence was not above the last accepted one. */
  rejectedByFence: number
  /** Of those, writes whose handle was no longer valid when sent: fencing saved the store. */
  staleRejected: number
  finalValue: number
}

/**
 * W1 over the fenced store's own log: no lost update (every accepted write read the value the
 * previous accepted write left, and wrote one more), and no stale write accepted (every
 * accepted write was sent while its handle's window was open).
 */
export function checkStore(
  events: readonly HistoryEvent[],
  entries: readonly StoreEntry[],
): { violations: Violation[]; summary: StoreSummary } {
  const windows = new Map(handleWindows(events).map((w) => [handleId(w.client, w.op), w]))
  const writes = new Map<string, Extract<HistoryEvent, { type: 'write' }>>()
  for (const e of events) if (e.type === 'write') writes.set(handleId(e.client, e.op), e)
  const violations: Violation[] = []
  const summary: StoreSummary = { accepted: 0, rejectedByFence: 0, staleRejected: 0, finalValue: 0 }
  let value = 0
  let lastAccepted: StoreEntry | undefined
  for (const entry of [...entries].sort((a, b) => a.seq - b.seq)) {
    const id = handleId(entry.client, entry.op)
    const window = windows.get(id)
    const write = writes.get(id)
    const stale = !window || !write || write.t > window.end || write.t < window.start
    if (!entry.accepted) {
      summary.rejectedByFence++
      if (stale) summary.staleRejected++
      continue
    }
    summary.accepted++
    if (entry.readValue !== value || entry.value !== entry.readValue + 1) {
      violations.push({
        checker: 'W1',
        message: `lost update: ${id} (fence ${entry.fence}) read ${entry.readValue} and wrote ${entry.value}, but the store held ${value} (last accepted ${lastAccepted ? handleId(lastAccepted.client, lastAccepted.op) : 'none'})`,
        excerpt: [window?.grant, write].flatMap((e) => (e ? [e as HistoryEvent] : [])),
      })
    }
    if (stale) {
      violations.push({
        checker: 'W1',
        message: `stale write accepted: ${id} (fence ${entry.fence}) wrote at ${write?.t.toFixed(1)} outside its validity window [${window?.start.toFixed(1)}, ${window?.end.toFixed(1)}]`,
        excerpt: window ? window.events.slice(0, 20) : [],
      })
    }
    value = entry.value
    lastAccepted = entry
  }
  summary.finalValue = value
  return { violations, summary }
}
