import type { HistoryEvent } from '../history.js'
import type { Violation } from './violation.js'

/**
 * S4: after an acquire that timed out or was aborted behind a holder, the key is free again
 * (a fresh tryAcquire succeeds) within the bound once the holder released: the given-up
 * attempt left nothing held.
 */
export function checkS4(events: readonly HistoryEvent[]): Violation[] {
  const violations: Violation[] = []
  for (const e of events) {
    if (e.type !== 's4') continue
    const ms = e.freeAt === null ? null : e.freeAt - e.releasedAt
    if (ms !== null && ms <= e.boundMs) continue
    violations.push({
      checker: 'S4',
      message: e.takenBeforeMs
        ? `key never free for the S4 probe: its holder waited ${e.takenBeforeMs} ms in vain, so the run left it taken${e.blocker === undefined ? '' : ` (held by: ${e.blocker})`}`
        : ms === null
          ? `key never free again after a ${e.kind === 'timeout' ? 'timed-out' : 'aborted'} acquire (bound ${e.boundMs} ms${e.blocker === undefined ? '' : `; held by: ${e.blocker}`})`
          : `key free ${ms.toFixed(0)} ms after release following a ${e.kind === 'timeout' ? 'timed-out' : 'aborted'} acquire (bound ${e.boundMs} ms${detailOf(e)})`,
      excerpt: [e],
    })
  }
  return violations
}

function detailOf(e: Extract<HistoryEvent, { type: 's4' }>): string {
  const parts: string[] = []
  if (e.attempts !== undefined) parts.push(`${e.attempts} tryAcquire calls`)
  if (e.releaseMs !== undefined) parts.push(`the release took ${e.releaseMs.toFixed(0)} ms`)
  return parts.length === 0 ? '' : `; ${parts.join(', ')}`
}

/** H1: nothing left behind after the run (keys, sessions, znodes, leases, connections). */
export function checkH1(events: readonly HistoryEvent[]): Violation[] {
  return events
    .filter((e): e is Extract<HistoryEvent, { type: 'h1' }> => e.type === 'h1' && e.count > 0)
    .map((e) => ({
      checker: 'H1' as const,
      message: `left behind: ${e.count} ${e.what}${e.detail ? ` (${e.detail})` : ''}`,
      excerpt: [e],
    }))
}
