import { readFileSync } from 'node:fs'
import { isLockError } from '@baton-lock/core'
import { conformanceCommand } from './conformance-command.js'
import { demoCommand } from './demo-command.js'
import { EXIT } from './exit-codes.js'
import { lsCommand } from './ls-command.js'
import { safe, warn } from './output.js'
import { releaseCommand } from './release-command.js'
import { runCommand } from './run-command.js'
import { statusCommand } from './status-command.js'
import { UsageError } from './usage-error.js'

type Command = (argv: readonly string[]) => Promise<number>

const COMMANDS: Record<string, Command> = {
  run: runCommand,
  status: statusCommand,
  ls: lsCommand,
  release: releaseCommand,
  demo: demoCommand,
  conformance: conformanceCommand,
}

const HELP = `Usage: baton COMMAND [options]

Distributed locks from the command line. Every command takes --url URL (default:
$BATON_URL, else the embedded sqlite:.baton/locks.db) and --help.

Commands:
  run NAME -- CMD...     run CMD while holding the lock NAME
  status NAME            is NAME held? fence, lease left, owner
  ls [PREFIX]            list held locks
  release --force NAME   free a lock whoever holds it (operators)
  demo                   worker processes contend for one lock around a shared counter
  conformance --url URL  run the conformance kit against a live deployment

URLs: memory:, sqlite:PATH, redis://, rediss://, postgres://, postgresql://

Exit codes: 0 ok (run: the command's own code), 1 backend error, 2 usage error,
3 not acquired within --wait, 4 skipped (--skip-if-held), 5 lock lost, 127 command not found.
`

/** Runs one `baton` invocation and resolves to its exit code; never throws. */
export async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv
  try {
    if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
      process.stdout.write(HELP)
      return name === undefined ? EXIT.USAGE : EXIT.OK
    }
    if (name === '--version' || name === '-V') {
      process.stdout.write(`${version()}\n`)
      return EXIT.OK
    }
    const command = COMMANDS[name]
    if (command === undefined) {
      throw new UsageError(`unknown command "${name}" (see baton --help)`)
    }
    return await command(rest)
  } catch (err) {
    return report(err)
  }
}

/** One line on stderr, no stack trace (BATON_DEBUG=1 adds it), and the exit code. */
function report(err: unknown): number {
  const message = err instanceof Error ? err.message : String(err)
  warn(message.split('\n')[0] ?? message)
  if (process.env.BATON_DEBUG === '1' && err instanceof Error && err.stack !== undefined) {
    process.stderr.write(`${safe(err.stack)}\n`)
  }
  // RangeError: core rejected an argument (e.g. a --ttl below the backend's resolution).
  if (err instanceof UsageError || err instanceof RangeError) return EXIT.USAGE
  if (isLockError(err, 'LOCK_TIMEOUT')) return EXIT.TIMEOUT
  if (isLockError(err, 'LOCK_LOST')) return EXIT.LOST
  if (isLockError(err, 'LOCK_UNSUPPORTED')) return EXIT.USAGE
  return EXIT.BACKEND
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'))
  return String((pkg as { version?: unknown }).version)
}
