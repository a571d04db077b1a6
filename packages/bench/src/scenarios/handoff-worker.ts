import { setTimeout as sleep } from 'node:timers/promises'
import { contenderNamed } from '../backends.js'
import type { LockClient } from '../lock-client.js'
import { monotonicNs, msSince } from '../shared-clock.js'
import type { HandoffCycle, HandoffGo, HandoffStart } from './handoff-protocol.js'

// One contending process of the handoff scenario: acquire, hold ~holdMs, release, pause
// pauseMs, until the parent's end time. It never measures anything itself beyond
// timestamps on the host-wide monotonic clock (see shared-clock.ts).

const send = (message: unknown) =>
  new Promise<void>((resolve, reject) =>
    process.send?.(message, undefined, {}, (e) => (e ? reject(e) : resolve())),
  )

function nextMessage<T>(type: string): Promise<T> {
  return new Promise((resolve) => {
    const onMessage = (m: { type?: string }) => {
      if (m?.type !== type) return
      process.off('message', onMessage)
      resolve(m as T)
    }
    process.on('message', onMessage)
  })
}

async function contend(client: LockClient, start: HandoffStart, go: HandoffGo) {
  const cycles: HandoffCycle[] = []
  let timeouts = 0
  const now = () => msSince(start.originNs)
  const untilStart = go.startAtMs - now()
  if (untilStart > 0) await sleep(untilStart)
  while (now() < go.endAtMs) {
    const requestedAtMs = now()
    // Generous: a fair lock hands over within a few holds; a wait that long is a finding.
    const release = await client.acquire(
      start.key,
      Math.ceil(Math.max(1_000, go.endAtMs - requestedAtMs + 5_000)),
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

async function main(): Promise<void> {
  const startMessage = nextMessage<HandoffStart>('start')
  await send({ type: 'hello' })
  const start = await startMessage
  const client = await contenderNamed(start.backend, start.contender).open({ url: start.url })
  try {
    const goMessage = nextMessage<HandoffGo>('go')
    await send({ type: 'ready', nowNs: monotonicNs() })
    const result = await contend(client, start, await goMessage)
    await send({ type: 'done', ...result })
  } finally {
    await client.close()
  }
}

main().then(
  () => process.disconnect?.(),
  async (err: unknown) => {
    await send({
      type: 'failed',
      error: err instanceof Error ? (err.stack ?? err.message) : String(err),
    }).catch(() => {})
    process.exitCode = 1
    process.disconnect?.()
  },
)
