import { setTimeout as sleep } from 'node:timers/promises'
import type { LockClient } from '../lock-client.js'
import { msSince } from '../shared-clock.js'
import type { HandoffCycle, HandoffDone, HandoffGo, HandoffStart } from './handoff-protocol.js'

/**
 * One contender's loop of a handoff-shaped round: acquire, hold ~holdMs, release, pause
 * pauseMs, until `go.endAtMs`; only timestamps on the host-wide monotonic clock since
 * `start.originNs` (see shared-clock.ts). Run by the handoff worker processes, and in the
 * parent for an in-process backend (memory: every loop on one driver).
 */
export async function contend(
  client: LockClient,
  start: Pick<HandoffStart, 'key' | 'originNs' | 'holdMs' | 'pauseMs'>,
  go: Pick<HandoffGo, 'startAtMs' | 'endAtMs'>,
): Promise<Omit<HandoffDone, 'type'>> {
  const cycles: HandoffCycle[] = []
  let timeouts = 0
  const now = () => msSince(start.originNs)
  const untilStart = go.startAtMs - now()
  if (untilStart > 0) await sleep(untilStart)
  while (now() < go.endAtMs) {
    const requestedAtMs = now()
    // Until 1 s past the window's end: a fair lock hands over within a few holds, a wait
    // that long is a finding (a timed-out wait), and the round ends within a second of it.
    const release = await client.acquire(
      start.key,
      Math.ceil(Math.max(1_000, go.endAtMs - requestedAtMs + 1_000)),
    )
    const acquiredAtMs = now()
    if (release === null) {
      timeouts += 1
      continue
    }
    await sleep(start.holdMs)
    const releasingAtMs = now()
    await release()
    cycles.push({ requestedAtMs, acquiredAtMs, releasingAtMs, releasedAtMs: now() })
    await sleep(start.pauseMs)
  }
  return { cycles, timeouts }
}
