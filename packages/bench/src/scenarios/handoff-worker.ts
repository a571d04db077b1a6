import { contenderNamed } from '../backends.js'
import { monotonicNs } from '../shared-clock.js'
import { contend } from './contend-loop.js'
import type { HandoffGo, HandoffStart } from './handoff-protocol.js'

// One contending process of the handoff scenario: acquire, hold ~holdMs, release, pause
// pauseMs, until the parent's end time. It never measures anything itself beyond
// timestamps on the host-wide monotonic clock (see shared-clock.ts).

const send = (message: unknown) =>
  new Promise<void>((resolve, reject) =>
    process.send?.(message, undefined, {}, (e) => (e ? reject(e) : resolve())),
  )

// Messages in arrival order; `take` waits for the next one of a type (the parent sends
// one instruction at a time, so nothing of another type is pending meanwhile).
const mailbox: Array<{ type?: string }> = []
let waiter: (() => void) | undefined
process.on('message', (m: { type?: string }) => {
  mailbox.push(m)
  waiter?.()
})

async function take<T>(...types: string[]): Promise<T> {
  for (;;) {
    const i = mailbox.findIndex((m) => types.includes(m?.type ?? ''))
    if (i >= 0) return mailbox.splice(i, 1)[0] as T
    await new Promise<void>((resolve) => {
      waiter = resolve
    })
    waiter = undefined
  }
}

/**
 * One round: open the contender, report ready, contend on `go`, report, close, and report
 * `closed` (the parent keeps a counting proxy up until every client has closed).
 */
async function round(start: HandoffStart): Promise<void> {
  const client = await contenderNamed(start.backend, start.contender).open({ url: start.url })
  let done = false
  try {
    await send({ type: 'ready', nowNs: monotonicNs() })
    const go = await take<HandoffGo>('go')
    const cpu0 = process.cpuUsage()
    const loop = await contend(client, start, go)
    const cpu = process.cpuUsage(cpu0)
    await send({ type: 'done', ...loop, cpuUs: cpu.user + cpu.system })
    done = true
  } finally {
    const closing = client.close()
    if (done) {
      await closing.then(
        () => send({ type: 'closed' }),
        (err: unknown) =>
          send({ type: 'closed', error: err instanceof Error ? err.message : String(err) }),
      )
    } else {
      await closing.catch(() => {})
    }
  }
}

// The worker serves rounds (one contender each) until the parent says `exit` or goes away,
// so a run pays for process start-up once, not once per contender.
async function main(): Promise<void> {
  process.once('disconnect', () => process.exit(0))
  await send({ type: 'hello' })
  for (;;) {
    const message = await take<HandoffStart | { type: 'exit' }>('start', 'exit')
    if (message.type === 'exit') return
    // A `go` left over from a round that failed here must not start the next one early.
    for (let i = mailbox.length - 1; i >= 0; i--)
      if (mailbox[i]?.type === 'go') mailbox.splice(i, 1)
    try {
      await round(message)
    } catch (err) {
      await send({
        type: 'failed',
        error: err instanceof Error ? (err.stack ?? err.message) : String(err),
      })
    }
  }
}

main().then(
  () => process.disconnect?.(),
  () => {
    process.exitCode = 1
    process.disconnect?.()
  },
)
