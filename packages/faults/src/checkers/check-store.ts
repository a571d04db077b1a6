import type { HistoryEvent, StoreEntry } from '../history.js'
import type { Violation } from './violation.js'
import { type HandleWindow, handleId, handleWindows } from './windows.js'

export interface StoreSummary {
  accepted: number
  /** Writes the store refused because of their fence. */
  rejectedByFence: number
  /** Of those, writes whose handle was no longer valid when sent: fencing saved the store. */
  staleRejected: number
  /**
   * Writes sent after their handle's validity ended only because the client's process stalled
   * between an in-window check and the send (a stop, or its own synchronous steps), which the store
   * accepted because no newer holder had reached it yet: they land before the newer holder's
   * read, as if inside the old window.
   */
  lateAccepted: number
  finalValue: number
}

/**
 * Between the check and the send the client runs only synchronous steps (two log lines). The
 * lag monitor (a 10 ms tick) records a stall of more than two ticks, and a recorded one may
 * begin up to a tick before the tick it missed was due: a longer gap needs a recorded stop that
 * spans it, give or take this much.
 */
const UNRECORDED_STALL_MS = 20

type Of<T extends HistoryEvent['type']> = Extract<HistoryEvent, { type: T }>

/**
 * W1 over the fenced store's own log:
 * - no lost update: every accepted write read the value the previous accepted write left, and
 *   wrote one more;
 * - no stale write: every write was sent while its handle's window was open, except one whose
 *   `isValid()` check passed inside the window and whose process then stopped before sending it
 *   (a lag covering the gap): no lock can prevent that, and the fence decides. Such a write
 *   counts as `staleRejected` when refused, `lateAccepted` when accepted; accepted while the
 *   store had seen a higher fence, it is a violation (the fence failed). Any other late write,
 *   accepted or refused (a client that did not check), is a violation.
 */
export function checkStore(
  events: readonly HistoryEvent[],
  entries: readonly StoreEntry[],
): { violations: Violation[]; summary: StoreSummary } {
  const windows = new Map(handleWindows(events).map((w) => [handleId(w.client, w.op), w]))
  const writes = new Map<string, Of<'write'>>()
  const lags = new Map<string, Of<'lag'>[]>()
  for (const e of events) {
    if (e.type === 'write') writes.set(handleId(e.client, e.op), e)
    else if (e.type === 'lag') lags.set(e.client, [...(lags.get(e.client) ?? []), e])
  }
  const violations: Violation[] = []
  const summary: StoreSummary = {
    accepted: 0,
    rejectedByFence: 0,
    staleRejected: 0,
    lateAccepted: 0,
    finalValue: 0,
  }
  let value = 0
  let lastAccepted: StoreEntry | undefined
  for (const entry of [...entries].sort((a, b) => a.seq - b.seq)) {
    const id = handleId(entry.client, entry.op)
    const window = windows.get(id)
    const write = writes.get(id)
    const stale = !window || !write || write.t > window.end || write.t < window.start
    const excused =
      stale && window && write ? stoppedAfterCheck(window, write, lags.get(entry.client)) : false
    const excerpt = () => (window ? window.events.slice(0, 20) : [])
    const when = `wrote at ${write?.t.toFixed(1)} outside its validity window [${window?.start.toFixed(1)}, ${window?.end.toFixed(1)}]`
    if (stale && !excused) {
      violations.push({
        checker: 'W1',
        message: entry.accepted
          ? `stale write accepted: ${id} (fence ${entry.fence}) ${when}`
          : `stale write sent without a check inside its window: ${id} (fence ${entry.fence}) ${when}; the store refused it`,
        excerpt: excerpt(),
      })
    }
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
    if (excused) {
      if (entry.seenFence !== undefined && BigInt(entry.seenFence) > BigInt(entry.fence)) {
        violations.push({
          checker: 'W1',
          message: `stale write accepted after a newer holder reached the store: ${id} (fence ${entry.fence}, store had seen ${entry.seenFence}) ${when}`,
          excerpt: excerpt(),
        })
      } else summary.lateAccepted++
    }
    value = entry.value
    lastAccepted = entry
  }
  summary.finalValue = value
  return { violations, summary }
}

/**
 * True when the handle's last `isValid()` check passed inside its window and nothing but the
 * client's own synchronous steps, or a stall of its process (recorded, or too short to record), lies between
 * that check and the send.
 */
function stoppedAfterCheck(
  window: HandleWindow,
  write: Of<'write'>,
  lags: readonly Of<'lag'>[] | undefined,
): boolean {
  const check = window.events.findLast(
    (e): e is Of<'valid'> => e.type === 'valid' && e.t <= write.t,
  )
  if (!check) return false
  const checkedAt = check.checkedAt ?? check.t
  if (checkedAt < window.start || checkedAt > window.end) return false
  const gap = write.t - checkedAt
  if (gap <= UNRECORDED_STALL_MS) return true
  return (lags ?? []).some(
    (lag) =>
      lag.from <= write.t && lag.to >= checkedAt && gap <= lag.to - lag.from + UNRECORDED_STALL_MS,
  )
}
