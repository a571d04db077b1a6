import { spawn } from 'node:child_process'
import type { LockHandle } from '@baton-lock/core'
import { EXIT, signalExitCode } from './exit-codes.js'
import { warn } from './output.js'

const FORWARDED: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP']

type ChildOutcome =
  | { readonly code: number | null; readonly signal: NodeJS.Signals | null }
  | { readonly error: NodeJS.ErrnoException }

/** How the command ended, as baton's exit code, and whether the lock was lost meanwhile. */
export interface ChildResult {
  readonly code: number
  /** The lock was lost while the command ran, and the command was stopped. */
  readonly lost: boolean
}

/** How `runChild` reports a loss. */
export interface ChildOptions {
  /** Exit code when the lock was lost and the command stopped. Default `EXIT.LOST`. */
  readonly lostExitCode?: number
  /** What was lost, for the message: `leadership of "k"` says `leadership of "k" lost (why)`. */
  readonly lostLabel?: string
  /** Extra environment for the command. */
  readonly env?: Readonly<Record<string, string>>
}

/**
 * Runs `command` with the lock's key, fence, owner and mode in its environment and
 * resolves to baton's exit code: the child's own (128+N for signal N), `EXIT.LOST` (or
 * `lostExitCode`) when the lock was lost and the child stopped (SIGTERM, then SIGKILL
 * after `graceMs`), 127/126 when it could not start. Signals sent to baton are forwarded
 * to the child meanwhile.
 */
export async function runChild(
  handle: LockHandle,
  command: readonly string[],
  graceMs: number,
  options: ChildOptions = {},
): Promise<ChildResult> {
  const [file, ...args] = command as [string, ...string[]]
  const child = spawn(file, args, {
    stdio: 'inherit',
    env: {
      ...process.env,
      BATON_LOCK_KEY: handle.key,
      BATON_LOCK_FENCE: String(handle.fence),
      BATON_LOCK_OWNER: handle.owner,
      BATON_LOCK_MODE: handle.mode,
      ...options.env,
    },
  })
  let lost = false
  let killTimer: NodeJS.Timeout | undefined
  const onLost = () => {
    lost = true
    const reason = handle.signal.reason
    const why = reason instanceof Error ? reason.message : 'lock lost'
    const what = options.lostLabel === undefined ? why : `${options.lostLabel} lost (${why})`
    warn(`${what}; stopping the command (SIGTERM, SIGKILL after ${graceMs} ms)`)
    child.kill('SIGTERM')
    killTimer = setTimeout(() => child.kill('SIGKILL'), graceMs)
  }
  const forward = (signal: NodeJS.Signals) => {
    child.kill(signal)
  }
  if (handle.signal.aborted) onLost()
  else handle.signal.addEventListener('abort', onLost, { once: true })
  for (const signal of FORWARDED) process.on(signal, forward)

  const outcome = await new Promise<ChildOutcome>((resolve) => {
    child.once('error', (error: NodeJS.ErrnoException) => resolve({ error }))
    child.once('exit', (code, signal) => resolve({ code, signal }))
  })
  handle.signal.removeEventListener('abort', onLost)
  for (const signal of FORWARDED) process.off(signal, forward)
  clearTimeout(killTimer)

  if ('error' in outcome) {
    if (outcome.error.code === 'ENOENT') {
      warn(`command not found: ${file}`)
      return { code: EXIT.NOT_FOUND, lost }
    }
    warn(`cannot run ${file}: ${outcome.error.message}`)
    return { code: outcome.error.code === 'EACCES' ? EXIT.NOT_EXECUTABLE : EXIT.BACKEND, lost }
  }
  if (lost) return { code: options.lostExitCode ?? EXIT.LOST, lost }
  return { code: outcome.code ?? signalExitCode(outcome.signal ?? 'SIGTERM'), lost }
}
