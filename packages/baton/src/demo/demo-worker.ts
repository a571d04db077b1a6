import { setImmediate as yieldToLoop } from 'node:timers/promises'
import type { Locker } from '@baton-lock/core'
import { connect } from '../connect.js'
import { parseLockUrl, scrub } from '../lock-url.js'
import type { DemoConfig, HoldRecord, ParentMessage, WorkerMessage } from './demo-protocol.js'
import { nowEpochMs } from './demo-protocol.js'
import { FencedCounter } from './fenced-counter.js'

/*
 * One demo worker (forked by `baton demo`): connects, waits for "start", then does
 * `increments` fenced read-modify-writes of the shared counter, each under the lock,
 * and reports every hold's fence and timing to the parent.
 */
const PROGRESS_EVERY_MS = 50

function send(message: WorkerMessage): Promise<void> {
  return new Promise((resolve) => {
    if (process.send === undefined) resolve()
    else process.send(message, () => resolve())
  })
}

function waitForStart(): Promise<void> {
  return new Promise((resolve) => {
    process.once('message', (message: ParentMessage) => {
      if (message.type === 'start') resolve()
    })
  })
}

async function incrementAll(locker: Locker, config: DemoConfig): Promise<void> {
  const counter = new FencedCounter(config.counterPath)
  const records: HoldRecord[] = []
  let staleWrites = 0
  let lastProgressMs = 0
  for (let i = 0; i < config.increments; i++) {
    const lock = await locker.acquire(config.key, { waitMs: config.waitMs, ttlMs: config.ttlMs })
    const acquiredAtMs = nowEpochMs()
    const { count } = counter.read()
    await yieldToLoop() // a read-modify-write with a gap: without the lock, updates would be lost
    if (!counter.write(count + 1, lock.fence)) staleWrites++
    const releasingAtMs = nowEpochMs()
    await lock.release()
    records.push({ fence: String(lock.fence), acquiredAtMs, releasingAtMs })
    if (releasingAtMs - lastProgressMs >= PROGRESS_EVERY_MS) {
      lastProgressMs = releasingAtMs
      process.send?.({
        type: 'progress',
        done: i + 1,
        fence: String(lock.fence),
      } satisfies WorkerMessage)
    }
  }
  await send({ type: 'progress', done: config.increments, fence: records.at(-1)?.fence ?? '0' })
  await send({ type: 'done', records, staleWrites })
}

async function run(): Promise<void> {
  const config = JSON.parse(process.env.BATON_DEMO_CONFIG ?? '{}') as DemoConfig
  const secrets = { secrets: safeSecrets(config.url) }
  let locker: Locker | undefined
  try {
    const started = waitForStart()
    locker = await connect(config.url)
    await send({ type: 'ready' })
    await started
    await incrementAll(locker, config)
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err)
    await send({ type: 'error', message: scrub(message, secrets) })
    process.exitCode = 1
  } finally {
    await locker?.close()
    process.disconnect?.()
  }
}

function safeSecrets(url: string | undefined): readonly string[] {
  try {
    return parseLockUrl(url ?? '').secrets
  } catch {
    return []
  }
}

await run()
