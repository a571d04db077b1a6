import type { LockHandle } from '@baton-lock/core'
import { acquireLock, grantJson, INTERRUPTS } from './acquire-lock.js'
import type { CommandSpec } from './command-args.js'
import { parseCommandArgs, URL_OPTION } from './command-args.js'
import { EXIT } from './exit-codes.js'
import { lockTarget } from './lock-target.js'
import { checkLockName, openLocker, resolveUrl } from './open-backend.js'
import { print, printJson, warn } from './output.js'
import { parseDuration } from './parse-duration.js'

export const lockSpec: CommandSpec = {
  name: 'lock',
  synopsis: 'lock NAME',
  summary: 'hold NAME until stdin closes or a signal; prints the fence',
  options: {
    ...URL_OPTION,
    wait: { type: 'string' },
    ttl: { type: 'string' },
    json: { type: 'boolean' },
  },
  minPositionals: 1,
  maxPositionals: 1,
  help: `Usage: baton lock NAME [--url URL] [--wait DUR] [--ttl DUR] [--json]

Acquires the lock NAME, prints its fence on stdout (one line), and holds it, renewing it
in the background, until stdin closes (end of input, Ctrl-D) or baton gets SIGINT,
SIGTERM or SIGHUP; then releases it and exits 0. The lock for a shell script that has no
single command to run under it (as etcdctl lock NAME):

  coproc LOCK { baton lock nightly-report; }
  read -r fence <&"\${LOCK[0]}"     # held from here on
  ...                               # pass $fence to what you write
  kill "$LOCK_PID"; wait "$LOCK_PID" # released

Stdin is the lifeline: started with stdin from /dev/null, baton releases at once. If the
lock is lost while held (its lease expired unrenewed, or an operator forced it free),
baton says so on stderr and exits 5.

Options:
  --url URL   lock backend (default: $BATON_URL, else sqlite:.baton/locks.db)
  --wait DUR  how long to wait for the lock (default: forever; at most 24h)
  --ttl DUR   lease length; a crashed holder's lock frees after this (default: 30s;
              10ms to 24h)
  --json      JSON lines on stdout instead of the fence: {"event":"acquired","key",
              "mode","fence","owner","url"}, then {"event":"released",...} or {"event":"lost",...}
  -h, --help  show this help

Exit codes: 0 held and released, 2 usage error, 3 not acquired within --wait, 5 lost
while held, 7 backend error, 128+N signal N ended baton while it waited.
`,
}

type HoldEnd = 'input closed' | NodeJS.Signals | 'lost'

/** `baton lock NAME`: holds NAME for as long as stdin stays open. */
export async function lockCommand(argv: readonly string[]): Promise<number> {
  const args = parseCommandArgs(lockSpec, argv)
  if (args === null) return EXIT.OK
  const name = checkLockName(args.positionals[0])
  const { values } = args
  const ttlMs = parseDuration('ttl', typeof values.ttl === 'string' ? values.ttl : '30s', {
    minMs: 10,
  })
  const waitMs = parseDuration('wait', typeof values.wait === 'string' ? values.wait : 'forever', {
    allowInfinity: true,
  })
  const json = values.json === true

  const url = resolveUrl(values.url)
  const locker = await openLocker(url, { ttlMs })
  try {
    const target = lockTarget(locker, name, { mode: 'exclusive' }, ttlMs)
    const handle = await acquireLock(locker, url, target, { waitMs, skipIfHeld: false })
    if (typeof handle === 'number') return handle
    const grant = grantJson(handle, url)
    if (json) printJson({ event: 'acquired', ...grant })
    else print(String(handle.fence))
    const end = await holdUntilEnd(handle)
    if (end === 'lost') {
      const reason = handle.signal.reason
      const why = reason instanceof Error ? reason.message : 'lock lost'
      if (json) printJson({ event: 'lost', ...grant, reason: why })
      warn(`${why}; lock "${name}" (fence ${handle.fence}) is no longer held`)
      return EXIT.LOST
    }
    await handle.release()
    if (json) printJson({ event: 'released', ...grant })
    return EXIT.OK
  } finally {
    await locker.close()
  }
}

/** Resolves when stdin ends, a signal arrives or the lock is lost, whichever is first. */
async function holdUntilEnd(handle: LockHandle): Promise<HoldEnd> {
  if (handle.signal.aborted) return 'lost'
  const { stdin } = process
  let finish: (end: HoldEnd) => void = () => undefined
  const ended = new Promise<HoldEnd>((resolve) => {
    finish = resolve
  })
  const onInputEnd = () => finish('input closed')
  const onSignal = (signal: NodeJS.Signals) => finish(signal)
  const onLost = () => finish('lost')
  handle.signal.addEventListener('abort', onLost, { once: true })
  for (const signal of INTERRUPTS) process.on(signal, onSignal)
  stdin.on('end', onInputEnd)
  stdin.on('close', onInputEnd)
  stdin.on('error', onInputEnd)
  stdin.on('data', () => undefined) // whatever arrives is read and dropped
  stdin.resume()
  try {
    return await ended
  } finally {
    handle.signal.removeEventListener('abort', onLost)
    for (const signal of INTERRUPTS) process.off(signal, onSignal)
    stdin.off('end', onInputEnd)
    stdin.off('close', onInputEnd)
    stdin.off('error', onInputEnd)
    stdin.pause()
  }
}
