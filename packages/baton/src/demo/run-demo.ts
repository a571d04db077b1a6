import type { ChildProcess } from 'node:child_process'
import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { print, safe, warn } from '../cli/output.js'
import type { LockUrl } from '../lock-url.js'
import type { DemoConfig, HoldRecord, WorkerMessage } from './demo-protocol.js'
import { formatSummary, passed, summarize } from './demo-summary.js'
import { FencedCounter } from './fenced-counter.js'
import { ProgressLine } from './progress-line.js'

/** What `runDemo` needs. */
export interface DemoPlan {
  readonly url: LockUrl
  readonly key: string
  readonly workers: number
  readonly increments: number
  readonly ttlMs: number
  readonly counterPath: string
}

interface WorkerResult {
  readonly records: readonly HoldRecord[]
  readonly staleWrites: number
}

const WORKER = fileURLToPath(new URL('./demo-worker.js', import.meta.url))

/** Forks the workers, shows progress, prints the summary; true when every check passed. */
export async function runDemo(plan: DemoPlan): Promise<boolean> {
  const expected = plan.workers * plan.increments
  const counter = new FencedCounter(plan.counterPath)
  counter.reset()
  print(
    `baton demo: ${plan.workers} workers x ${plan.increments} increments on ${plan.url.display} (lock "${plan.key}")`,
  )
  const config: DemoConfig = {
    url: plan.url.url,
    key: plan.key,
    increments: plan.increments,
    counterPath: plan.counterPath,
    ttlMs: plan.ttlMs,
    waitMs: 60_000,
  }
  const children = Array.from({ length: plan.workers }, () =>
    fork(WORKER, [], {
      env: { ...process.env, BATON_DEMO_CONFIG: JSON.stringify(config) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    }),
  )
  const progress = new ProgressLine(expected)
  const done = new Array<number>(plan.workers).fill(0)
  let ready = 0
  const results = await Promise.allSettled(
    children.map((child, i) =>
      collect(child, (message) => {
        if (message.type === 'ready' && ++ready === plan.workers) {
          progress.start()
          for (const c of children) c.send({ type: 'start' })
        }
        if (message.type === 'progress') {
          done[i] = message.done
          progress.update(
            done.reduce((a, b) => a + b, 0),
            message.fence,
          )
        }
      }),
    ),
  )
  progress.finish()

  const failures = results.filter((r) => r.status === 'rejected')
  if (failures.length > 0) {
    for (const child of children) child.kill('SIGTERM')
    for (const f of failures)
      warn(`demo worker failed: ${safe(String((f as PromiseRejectedResult).reason))}`)
    return false
  }
  const ok = results.map((r) => (r as PromiseFulfilledResult<WorkerResult>).value)
  const summary = summarize(
    ok.flatMap((r) => r.records),
    expected,
    counter.read().count,
    ok.reduce((n, r) => n + r.staleWrites, 0),
  )
  for (const line of formatSummary(summary)) print(line)
  const pass = passed(summary)
  print(pass ? 'PASS: every check held' : 'FAIL: a check did not hold (see above)')
  return pass
}

/** Resolves with the worker's result, or rejects with its error or unexpected exit. */
function collect(
  child: ChildProcess,
  onMessage: (m: WorkerMessage) => void,
): Promise<WorkerResult> {
  return new Promise((resolve, reject) => {
    let result: WorkerResult | undefined
    let error: string | undefined
    child.on('message', (message: WorkerMessage) => {
      if (message.type === 'done') result = message
      else if (message.type === 'error') error = message.message
      onMessage(message)
    })
    child.once('error', reject)
    child.once('exit', (code, signal) => {
      if (result !== undefined) resolve(result)
      else reject(new Error(error ?? `exited with ${signal ?? `code ${code}`} before finishing`))
    })
  })
}
