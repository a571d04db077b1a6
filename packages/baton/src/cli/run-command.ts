import type { Locker, LockHandle } from '@baton-lock/core'
import { isLockError } from '@baton-lock/core'
import type { CommandSpec } from './command-args.js'
import { parseCommandArgs, URL_OPTION } from './command-args.js'
import { EXIT, signalExitCode } from './exit-codes.js'
import { checkLockName, openLocker, resolveUrl } from './open-backend.js'
import { warn } from './output.js'
import { parseDuration } from './parse-duration.js'
import { runChild } from './run-child.js'
import { UsageError } from './usage-error.js'

const spec: CommandSpec = {
  name: 'run',
  options: {
    ...URL_OPTION,
    wait: { type: 'string' },
    ttl: { type: 'string' },
    grace: { type: 'string' },
    'skip-if-held': { type: 'boolean' },
    verbose: { type: 'boolean', short: 'v' },
  },
  minPositionals: 1,
  maxPositionals: 1,
  help: `Usage: baton run NAME [options] -- CMD [ARGS...]

Runs CMD while holding the lock NAME, renewing it in the background, and releases it
when CMD exits. CMD gets BATON_LOCK_KEY, BATON_LOCK_FENCE and BATON_LOCK_OWNER in its
environment; pass the fence to the store CMD writes, so a late writer is rejected.
If the lock is lost while CMD runs, CMD gets SIGTERM, then SIGKILL after --grace.
SIGINT, SIGTERM and SIGHUP sent to baton are forwarded to CMD.

Options:
  --url URL        lock backend (default: $BATON_URL, else sqlite:.baton/locks.db)
  --wait DUR       how long to wait for the lock (default: forever)
  --ttl DUR        lease length; a crashed holder's lock frees after this (default: 30s)
  --grace DUR      time between SIGTERM and SIGKILL when the lock is lost (default: 10s)
  --skip-if-held   do not wait: exit 4 at once if someone else holds the lock
  -v, --verbose    print when the lock is acquired and released (stderr)
  -h, --help       show this help

Durations: 500ms, 10s, 2m, 1h, or plain milliseconds.

Exit codes:
  CMD's own code   CMD ran (128+N if signal N ended it)
  1                backend error      2  usage error (bad flag, duration or URL)
  3                not acquired within --wait
  4                skipped: held elsewhere (--skip-if-held)
  5                lock lost while CMD ran; CMD was stopped
  127              CMD not found
`,
}

const FORWARDED: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP']

/** `baton run NAME [options] -- CMD...`: CMD runs while this process holds NAME. */
export async function runCommand(argv: readonly string[]): Promise<number> {
  const dash = argv.indexOf('--')
  const own = dash === -1 ? argv : argv.slice(0, dash)
  const command = dash === -1 ? [] : argv.slice(dash + 1)
  const args = parseCommandArgs(spec, own)
  if (args === null) return EXIT.OK
  const name = checkLockName(args.positionals[0])
  if (command.length === 0 || command[0] === '') {
    throw new UsageError('missing command: baton run NAME [options] -- CMD [ARGS...]')
  }
  const { values } = args
  const ttlMs = parseDuration('ttl', stringOr(values.ttl, '30s'))
  if (ttlMs < 10) throw new UsageError(`--ttl must be at least 10ms, got "${values.ttl}"`)
  const graceMs = parseDuration('grace', stringOr(values.grace, '10s'))
  const skipIfHeld = values['skip-if-held'] === true
  if (skipIfHeld && values.wait !== undefined) {
    throw new UsageError('--skip-if-held and --wait exclude each other (see baton run --help)')
  }
  const waitMs = parseDuration('wait', stringOr(values.wait, 'forever'), true)
  const verbose = values.verbose === true

  const url = resolveUrl(values.url)
  const locker = await openLocker(url, { ttlMs })
  try {
    const outcome = await acquire(locker, name, { ttlMs, waitMs, skipIfHeld })
    if (typeof outcome === 'number') return outcome
    if (verbose) warn(`acquired "${name}" (fence ${outcome.fence}) on ${url.display}`)
    const code = await runChild(outcome, command, graceMs)
    await outcome.release()
    if (verbose) warn(`released "${name}" (fence ${outcome.fence})`)
    return code
  } finally {
    await locker.close()
  }
}

interface AcquirePlan {
  readonly ttlMs: number
  readonly waitMs: number
  readonly skipIfHeld: boolean
}

/** The handle, or the exit code when none was obtained. SIGINT/SIGTERM abort the wait. */
async function acquire(
  locker: Locker,
  name: string,
  plan: AcquirePlan,
): Promise<LockHandle | number> {
  const interrupt = new AbortController()
  let received: NodeJS.Signals = 'SIGINT'
  const onSignal = (signal: NodeJS.Signals) => {
    received = signal
    interrupt.abort(new Error(`interrupted by ${signal}`))
  }
  for (const signal of FORWARDED) process.on(signal, onSignal)
  try {
    if (plan.skipIfHeld) {
      const handle = await locker.tryAcquire(name, { ttlMs: plan.ttlMs })
      if (handle === null) warn(`lock "${name}" is held elsewhere; skipped`)
      return handle ?? EXIT.SKIPPED
    }
    return await locker.acquire(name, {
      ttlMs: plan.ttlMs,
      waitMs: plan.waitMs,
      signal: interrupt.signal,
    })
  } catch (err) {
    if (isLockError(err, 'LOCK_TIMEOUT')) {
      warn(`lock "${name}" not acquired within ${plan.waitMs} ms`)
      return EXIT.TIMEOUT
    }
    if (isLockError(err, 'LOCK_ABORTED')) return signalExitCode(received)
    throw err
  } finally {
    for (const signal of FORWARDED) process.off(signal, onSignal)
  }
}

function stringOr(value: string | boolean | undefined, fallback: string): string {
  return typeof value === 'string' ? value : fallback
}
