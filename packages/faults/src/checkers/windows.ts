import type { HistoryEvent } from '../history.js'

type Of<T extends HistoryEvent['type']> = Extract<HistoryEvent, { type: T }>

/** What one handle (client, op) claimed: valid from its grant until `end`. */
export interface HandleWindow {
  client: string
  op: number
  fence: bigint
  start: number
  /** min(latest validUntil it reported, release call, loss signal, first invalid observation, SIGKILL of its process). */
  end: number
  /** The latest validUntil the handle reported. */
  validUntil: number
  grant: Of<'grant'>
  release?: Of<'release'>
  lost?: Of<'lost'>
  invalid?: Of<'invalid'>
  events: HistoryEvent[]
}

export const handleId = (client: string, op: number): string => `${client}#${op}`

/** Builds the validity window of every granted handle, ordered by grant time. */
export function handleWindows(events: readonly HistoryEvent[]): HandleWindow[] {
  const byId = new Map<string, HandleWindow>()
  for (const e of events) {
    if (!('op' in e) || !('client' in e)) continue
    const id = handleId(e.client, e.op)
    if (e.type === 'grant') {
      byId.set(id, {
        client: e.client,
        op: e.op,
        fence: BigInt(e.fence),
        start: e.t,
        end: e.validUntil,
        validUntil: e.validUntil,
        grant: e,
        events: [e],
      })
      continue
    }
    const w = byId.get(id)
    if (!w) continue
    w.events.push(e)
    if (e.type === 'extend' || e.type === 'valid')
      w.validUntil = Math.max(w.validUntil, e.validUntil)
    else if (e.type === 'release' && !w.release) w.release = e
    else if (e.type === 'lost' && !w.lost) w.lost = e
    else if (e.type === 'invalid' && !w.invalid) w.invalid = e
  }
  // A SIGKILLed process holds nothing valid after its death: its windows end at the kill.
  const killedAt = new Map<string, number>()
  for (const e of events)
    if (e.type === 'nemesis' && e.name === 'holder-kill' && e.phase === 'start' && e.target)
      killedAt.set(e.target, Math.min(e.t, killedAt.get(e.target) ?? Number.POSITIVE_INFINITY))
  const windows = [...byId.values()]
  for (const w of windows) {
    w.end = Math.min(
      killedAt.get(w.client) ?? Number.POSITIVE_INFINITY,
      w.validUntil,
      w.release?.t ?? Number.POSITIVE_INFINITY,
      w.lost?.t ?? Number.POSITIVE_INFINITY,
      w.invalid?.t ?? Number.POSITIVE_INFINITY,
    )
  }
  return windows.sort((a, b) => a.start - b.start)
}
