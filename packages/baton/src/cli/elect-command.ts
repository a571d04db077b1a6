import type { Election } from '@baton-lock/core'
import { acquireLock, grantJson, INTERRUPTS } from './acquire-lock.js'
import type { CommandSpec } from './command-args.js'
import { parseCommandArgs, URL_OPTION } from './command-args.js'
import { EXIT, signalExitCode } from './exit-codes.js'
import { electionTarget } from './lock-target.js'
import { checkLockName, openLocker, resolveUrl } from './open-backend.js'
import { printJson, warn } from './output.js'
import { parseDuration } from './parse-duration.js'
import { runChild } from './run-child.js'
import { UsageError } from './usage-error.js'

/** Pause between a lost leadership and the next campaign (`--recampaign`). */
const RECAMPAIGN_PAUSE_MS = 500

export const electSpec: CommandSpec = {
  name: 'elect',
  synopsis: 'elect NAME -- CMD...',
  summary: 'run CMD while leader of NAME; stopped when leadership is lost',
  options: {
    ...URL_OPTION,
    wait: { type: 'string' },
    ttl: { type: 'string' },
    grace: { type: 'string' },
    value: { type: 'string' },
    recampaign: { type: 'boolean' },
    json: { type: 'boolean' },
    verbose: { type: 'boolean', short: 'v' },
  },
  minPositionals: 1,
  maxPositionals: 1,
  help: `Usage: baton elect NAME [options] -- CMD [ARGS...]

Campaigns to become the leader of the election NAME, runs CMD while it leads, and
resigns when CMD exits. Every backend: the leader holds the lock NAME (so an election
and "baton run NAME" exclude each other) with its --value stored where the backend has
room ("baton status NAME" shows it). CMD gets BATON_LOCK_KEY, BATON_LOCK_FENCE,
BATON_LOCK_OWNER, BATON_LOCK_MODE and BATON_LEADER_VALUE; the fence orders the leaders'
writes. The moment leadership is lost (the lease expired unrenewed, or an operator
forced the lock free), CMD gets SIGTERM, then SIGKILL after --grace, and baton exits 8;
with --recampaign it campaigns again instead and restarts CMD once it leads again.
SIGINT, SIGTERM and SIGHUP sent to baton stop a campaign (exit 128+N), or are forwarded
to CMD: baton resigns once CMD has exited and exits with CMD's code.

Options:
  --url URL        lock backend (default: $BATON_URL, else sqlite:.baton/locks.db)
  --wait DUR       how long each campaign waits to be elected (default: forever;
                   at most 24h)
  --ttl DUR        lease of the leadership; a crashed leader is replaced after this
                   (default: 30s; 10ms to 24h)
  --grace DUR      time between SIGTERM and SIGKILL when leadership is lost
                   (default: 10s; at most 24h)
  --value TEXT     what this candidate advertises while it leads, at most 1024 bytes
                   (default: HOSTNAME:PID)
  --recampaign     after a loss, campaign again and restart CMD, instead of exit 8
  --json           JSON lines on stderr: {"event":"elected","key","mode","fence",
                   "owner","url","value"}, then {"event":"resigned",...} or
                   {"event":"lost",...} (stdout is CMD's)
  -v, --verbose    print when campaigning, elected and resigned (stderr)
  -h, --help       show this help

Exit codes: CMD's own code once CMD ran and exited by itself (128+N if signal N ended
it); else 2 usage error, 3 not elected within --wait, 7 backend error, 8 leadership lost
while CMD ran (CMD was stopped; never with --recampaign), 126 CMD not executable, 127
CMD not found, 128+N signal N ended baton while it campaigned.
`,
}

/** `baton elect NAME [options] -- CMD...`: CMD runs while this process leads NAME. */
export async function electCommand(argv: readonly string[]): Promise<number> {
  const dash = argv.indexOf('--')
  const own = dash === -1 ? argv : argv.slice(0, dash)
  const command = dash === -1 ? [] : argv.slice(dash + 1)
  const args = parseCommandArgs(electSpec, own)
  if (args === null) return EXIT.OK
  const name = checkLockName(args.positionals[0])
  if (command.length === 0 || command[0] === '') {
    throw new UsageError('missing command: baton elect NAME [options] -- CMD [ARGS...]')
  }
  const { values } = args
  const ttlMs = parseDuration('ttl', stringOr(values.ttl, '30s'), { minMs: 10 })
  const graceMs = parseDuration('grace', stringOr(values.grace, '10s'))
  const waitMs = parseDuration('wait', stringOr(values.wait, 'forever'), { allowInfinity: true })
  const value = typeof values.value === 'string' ? values.value : undefined
  if (value !== undefined && Buffer.byteLength(value, 'utf8') > 1024) {
    throw new UsageError(`--value is ${Buffer.byteLength(value, 'utf8')} UTF-8 bytes; at most 1024`)
  }
  const recampaign = values.recampaign === true
  const json = values.json === true
  const verbose = values.verbose === true

  const url = resolveUrl(values.url)
  const locker = await openLocker(url, { ttlMs })
  // A signal while CMD runs is forwarded to CMD (runChild); it also ends the campaigns.
  let interrupted: NodeJS.Signals | undefined
  const onSignal = (signal: NodeJS.Signals) => {
    interrupted = signal
  }
  for (const signal of INTERRUPTS) process.on(signal, onSignal)
  try {
    const election: Election = locker.election(name, {
      ttlMs,
      ...(value === undefined ? {} : { value }),
    })
    const target = electionTarget(election)
    // Bounded by the user's intent: without --recampaign one term; with it, one term per
    // lost leadership, each after a pause, until CMD exits by itself or a signal arrives.
    for (;;) {
      if (verbose) warn(`campaigning for leadership of "${name}" on ${url.display}`)
      const leadership = await acquireLock(locker, url, target, { waitMs, skipIfHeld: false })
      if (typeof leadership === 'number') return leadership
      const grant = { ...grantJson(leadership, url), value: election.value }
      if (json) printJson({ event: 'elected', ...grant }, 'stderr')
      else if (verbose) warn(`elected leader of "${name}" (fence ${leadership.fence})`)
      const { code, lost } = await runChild(leadership, command, graceMs, {
        lostExitCode: EXIT.LEADERSHIP_LOST,
        lostLabel: `leadership of "${name}"`,
        env: { BATON_LEADER_VALUE: election.value },
      })
      await election.resign()
      if (json) printJson({ event: lost ? 'lost' : 'resigned', ...grant }, 'stderr')
      else if (verbose && !lost) warn(`resigned leadership of "${name}"`)
      if (!lost || !recampaign || interrupted !== undefined) return code
      warn(`campaigning again for "${name}" (--recampaign)`)
      await new Promise((resolve) => setTimeout(resolve, RECAMPAIGN_PAUSE_MS))
      if (interrupted !== undefined) return signalExitCode(interrupted)
    }
  } finally {
    for (const signal of INTERRUPTS) process.off(signal, onSignal)
    await locker.close()
  }
}

function stringOr(value: string | boolean | undefined, fallback: string): string {
  return typeof value === 'string' ? value : fallback
}
