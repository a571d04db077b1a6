import { isLockError } from '@baton-lock/core'
import type { LockUrl } from '../lock-url.js'
import { acquireLock, grantJson, parseExitCode } from './acquire-lock.js'
import type { CommandSpec } from './command-args.js'
import { parseCommandArgs, URL_OPTION } from './command-args.js'
import { EXIT } from './exit-codes.js'
import { lockTarget, parseRunMode } from './lock-target.js'
import { checkLockName, openLocker, resolveUrl } from './open-backend.js'
import { printJson, warn } from './output.js'
import { parseDuration } from './parse-duration.js'
import { runChild } from './run-child.js'
import { UsageError } from './usage-error.js'

export const runSpec: CommandSpec = {
  name: 'run',
  synopsis: 'run NAME -- CMD...',
  summary: 'run CMD holding the lock NAME (--shared, --semaphore N)',
  options: {
    ...URL_OPTION,
    shared: { type: 'boolean' },
    semaphore: { type: 'string' },
    wait: { type: 'string' },
    ttl: { type: 'string' },
    grace: { type: 'string' },
    'skip-if-held': { type: 'boolean' },
    'conflict-exit-code': { type: 'string' },
    json: { type: 'boolean' },
    verbose: { type: 'boolean', short: 'v' },
  },
  minPositionals: 1,
  maxPositionals: 1,
  help: `Usage: baton run NAME [options] -- CMD [ARGS...]
       baton run --shared NAME [options] -- CMD [ARGS...]
       baton run --semaphore N NAME [options] -- CMD [ARGS...]

Runs CMD while holding the lock NAME, renewing it in the background, and releases it
when CMD exits. CMD gets BATON_LOCK_KEY, BATON_LOCK_FENCE, BATON_LOCK_OWNER and
BATON_LOCK_MODE in its environment; pass the fence to the store CMD writes, so a late
writer is rejected. If the lock is lost while CMD runs, CMD gets SIGTERM, then SIGKILL
after --grace. SIGINT, SIGTERM and SIGHUP sent to baton are forwarded to CMD.

--shared holds NAME as a read lock: any number of --shared runs at once, none beside a
plain (exclusive) run of NAME. --semaphore N holds one of N permits of the semaphore
NAME: at most N such runs at once (every run of NAME must give the same N). A semaphore
is its own resource: it never blocks or waits for the lock NAME. Both need a backend
whose driver has the mode; on one without, baton names the missing feature and exits 2.

Options:
  --url URL                lock backend (default: $BATON_URL, else sqlite:.baton/locks.db)
  --shared                 hold a shared (read) lock instead of the exclusive one
  --semaphore N            hold one of N permits (N from 1 to 10000) of semaphore NAME
  --wait DUR               how long to wait for the lock (default: forever; at most 24h)
  --ttl DUR                lease length; a crashed holder's lock frees after this
                           (default: 30s; 10ms to 24h)
  --grace DUR              time between SIGTERM and SIGKILL when the lock is lost
                           (default: 10s; at most 24h)
  --skip-if-held           do not wait: exit 4 at once if the lock (or every permit)
                           is held elsewhere
  --conflict-exit-code N   exit N instead of 3 (--wait ran out) or 4 (--skip-if-held),
                           as flock -E; pick an N that CMD itself never exits with
  --json                   print {"event":"acquired","key","mode","fence","owner","url"} and
                           {"event":"released",...} as JSON lines on stderr (stdout is CMD's)
  -v, --verbose            print when the lock is acquired and released (stderr)
  -h, --help               show this help

Durations: 500ms, 10s, 2m, 1h, or plain milliseconds.

Exit codes: CMD's own code once CMD ran (128+N if signal N ended it); else 2 usage error,
3 not acquired within --wait, 4 skipped (--skip-if-held), 5 lock lost while CMD ran (CMD
was stopped), 7 backend error, 126 CMD not executable, 127 CMD not found, 128+N signal N
ended baton while it waited. 2 also for bad --semaphore, both --shared and --semaphore,
an N other than the current holders' (where the backend can tell), or a backend without
shared locks or semaphores.
`,
}

/** `baton run NAME [options] -- CMD...`: CMD runs while this process holds NAME. */
export async function runCommand(argv: readonly string[]): Promise<number> {
  const dash = argv.indexOf('--')
  const own = dash === -1 ? argv : argv.slice(0, dash)
  const command = dash === -1 ? [] : argv.slice(dash + 1)
  const args = parseCommandArgs(runSpec, own)
  if (args === null) return EXIT.OK
  const name = checkLockName(args.positionals[0])
  if (command.length === 0 || command[0] === '') {
    throw new UsageError('missing command: baton run NAME [options] -- CMD [ARGS...]')
  }
  const { values } = args
  const ttlMs = parseDuration('ttl', stringOr(values.ttl, '30s'), { minMs: 10 })
  const graceMs = parseDuration('grace', stringOr(values.grace, '10s'))
  const skipIfHeld = values['skip-if-held'] === true
  if (skipIfHeld && values.wait !== undefined) {
    throw new UsageError('--skip-if-held and --wait exclude each other (see baton run --help)')
  }
  const waitMs = parseDuration('wait', stringOr(values.wait, 'forever'), { allowInfinity: true })
  const conflictExitCode = parseExitCode('conflict-exit-code', values['conflict-exit-code'])
  const json = values.json === true
  const verbose = values.verbose === true
  const mode = parseRunMode(values.shared, values.semaphore)

  const url = resolveUrl(values.url)
  const locker = await openLocker(url, { ttlMs })
  try {
    const plan = { waitMs, skipIfHeld, conflictExitCode }
    const handle = await withModeCheck(url, () =>
      acquireLock(locker, url, lockTarget(locker, name, mode, ttlMs), plan),
    )
    if (typeof handle === 'number') return handle
    const grant = grantJson(handle, url)
    if (json) printJson({ event: 'acquired', ...grant }, 'stderr')
    else if (verbose) warn(`acquired "${name}" (fence ${handle.fence}) on ${url.display}`)
    const { code } = await runChild(handle, command, graceMs)
    await handle.release()
    if (json) printJson({ event: 'released', ...grant }, 'stderr')
    else if (verbose) warn(`released "${name}" (fence ${handle.fence})`)
    return code
  } finally {
    await locker.close()
  }
}

/**
 * A backend without the mode asked for: core rejects before any backend call with
 * `LockUnsupportedError` ("the sqlite driver does not support semaphores"); said as a
 * usage error (exit 2) that also names the URL. A semaphore limit that differs from the
 * holders' (`LockLimitMismatchError`) is a usage error too.
 */
async function withModeCheck<T>(url: LockUrl, step: () => Promise<T>): Promise<T> {
  try {
    return await step()
  } catch (err) {
    if (isLockError(err, 'LOCK_UNSUPPORTED')) {
      throw new UsageError(`${err.message} (${url.display}); its README lists the modes it has`)
    }
    // `--semaphore N` with an N other than the holders': the caller's mistake, not the backend's.
    if (isLockError(err, 'LOCK_LIMIT_MISMATCH')) throw new UsageError(err.message)
    throw err
  }
}

function stringOr(value: string | boolean | undefined, fallback: string): string {
  return typeof value === 'string' ? value : fallback
}
