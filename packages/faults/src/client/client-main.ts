// A fault-suite client process: one Locker on its own driver, fenced read-modify-write on the
// store in a loop, every step logged as a JSON line on the shared monotonic clock (history.ts).
// argv[2]: the ClientConfig as JSON. Ends when the harness says stop (or after maxRunMs).
import { appendFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import {
  type Capabilities,
  createDriver,
  LockAbortedError,
  type LockDriver,
  Locker,
  type LockHandle,
  LockTimeoutError,
} from 'baton-lock'
import { type HistoryEvent, nowMs } from '../history.js'
import { BridgeDriver } from './bridge-driver.js'
import { between, type ClientConfig, prng } from './client-config.js'
import { signalOf, wrapDriver } from './controls.js'
import { listen, request, send } from './ipc.js'
import { openStore } from './store-client.js'

const config = JSON.parse(process.argv[2] ?? '{}') as ClientConfig
const { client, key, ttlMs, control } = config
const rand = prng(config.seed)
let stopping = false
listen(() => {
  stopping = true
})
setTimeout(() => {
  stopping = true
}, config.maxRunMs).unref()

/** An event without `client` (added here) and with `t` optional (now, by default). */
type Draft = { type: HistoryEvent['type']; t?: number } & Record<string, unknown>

function log(draft: Draft): void {
  const event = { ...draft, client, t: draft.t ?? nowMs() } as HistoryEvent
  appendFileSync(config.historyPath, `${JSON.stringify(event)}\n`)
  send({ kind: 'event', event })
}

// Lag monitor: a 10 ms tick that comes more than 10 ms late means the loop did not run
// (SIGSTOP, starvation) from when the tick was due until now.
const TICK_MS = 10
let lastTick = nowMs()
setInterval(() => {
  const now = nowMs()
  if (now - lastTick > 2 * TICK_MS) log({ type: 'lag', from: lastTick + TICK_MS, to: now, t: now })
  lastTick = now
}, TICK_MS).unref()

async function openDriver(): Promise<LockDriver> {
  if (config.url === 'memory-bridge:') {
    const capabilities = await request<Capabilities>({ kind: 'driver', op: 'capabilities' })
    return new BridgeDriver(capabilities)
  }
  // Starting up is not under test: a cluster that just re-elected may refuse the first ready().
  for (let attempt = 1; ; attempt++) {
    const driver = await createDriver(config.url)
    try {
      await driver.ready?.()
      return driver
    } catch (err) {
      await driver.close().catch(() => undefined)
      if (attempt >= 5) throw err
      await sleep(500 * attempt)
    }
  }
}

let current: { handle: LockHandle; op: number; validUntil: number } | undefined
const driver = wrapDriver(await openDriver(), control)
const locker = new Locker(driver, {
  ttlMs,
  onEvent: (event) => {
    if (event.type !== 'renewed' || !current || event.key !== key) return
    const validUntil = nowMs() + current.handle.validForMs()
    if (validUntil > current.validUntil + 0.5) {
      current.validUntil = validUntil
      log({ type: 'extend', op: current.op, validUntil })
    }
  },
})
const store = await openStore(config)
log({ type: 'start', pid: process.pid })

let op = 0
while (!stopping) {
  op++
  await once(op)
}
await locker.close().catch(() => undefined)
await store.close()
log({ type: 'end', ops: op })
process.disconnect?.()
process.exit(0)

async function once(op: number): Promise<void> {
  const waitMs = between(rand, config.waitMs)
  const abortAfterMs = rand() < config.abortShare ? between(rand, [5, waitMs]) : undefined
  const controller = new AbortController()
  let abortedAt = 0
  const abortTimer =
    abortAfterMs === undefined
      ? undefined
      : setTimeout(() => {
          abortedAt = nowMs()
          controller.abort()
        }, abortAfterMs)
  log({ type: 'acquire', op, waitMs, ...(abortAfterMs === undefined ? {} : { abortAfterMs }) })
  let handle: LockHandle
  try {
    handle = await locker.acquire(key, { waitMs, ttlMs, signal: controller.signal })
  } catch (err) {
    if (err instanceof LockTimeoutError) log({ type: 'timeout', op })
    else if (err instanceof LockAbortedError) log({ type: 'abort', op, abortedAt })
    else log({ type: 'acquire-error', op, error: errorName(err) })
    clearTimeout(abortTimer)
    if (!(err instanceof LockTimeoutError || err instanceof LockAbortedError)) await sleep(50)
    return
  }
  clearTimeout(abortTimer)
  const validUntil = nowMs() + handle.validForMs()
  current = { handle, op, validUntil }
  log({ type: 'grant', op, fence: String(handle.fence), validUntil })
  const signal = signalOf(handle, control)
  const onLost = () => log({ type: 'lost', op, reason: errorName(signal.reason) })
  if (signal.aborted) onLost()
  else signal.addEventListener('abort', onLost, { once: true })
  try {
    const read = await store.read(handle.fence)
    log({ type: 'read', op, value: read.value, fence: read.fence })
    await sleep(between(rand, config.holdMs))
    // The check's time and validity are read before the check, so that a stop between the
    // check and the log that follows cannot move either past the real validity end.
    const checkedAt = nowMs()
    const validUntil = checkedAt + handle.validForMs()
    const valid = control === 'no-check' ? true : handle.isValid()
    if (!valid) {
      log({ type: 'invalid', op })
      log({ type: 'skip', op })
    } else {
      if (control !== 'no-check') log({ type: 'valid', op, checkedAt, validUntil })
      const value = read.value + 1
      log({ type: 'write', op, fence: String(handle.fence), value })
      try {
        const accepted = await store.write({
          fence: handle.fence,
          readValue: read.value,
          value,
          client,
          op,
        })
        log({ type: 'write-result', op, accepted })
      } catch (err) {
        log({ type: 'write-result', op, accepted: null, error: errorName(err) })
      }
    }
  } catch (err) {
    log({ type: 'write-result', op, accepted: null, error: `read: ${errorName(err)}` })
  } finally {
    current = undefined
    log({ type: 'release', op })
    try {
      await handle.release()
      log({ type: 'released', op })
    } catch (err) {
      log({ type: 'released', op, error: errorName(err) })
    }
  }
}

function errorName(err: unknown): string {
  if (err instanceof Error) return (err as { code?: string }).code ?? err.name
  return String(err)
}
