import { readFileSync } from 'node:fs'
import { isLockError } from '@baton-lock/core'
import type { CommandSpec } from './command-args.js'
import { printHelp } from './command-args.js'
import { conformanceCommand, conformanceSpec } from './conformance-command.js'
import { demoCommand, demoSpec } from './demo-command.js'
import { electCommand, electSpec } from './elect-command.js'
import { EXIT, exitCodeLines } from './exit-codes.js'
import { lockCommand, lockSpec } from './lock-command.js'
import { lsCommand, lsSpec } from './ls-command.js'
import { safe, warn } from './output.js'
import { releaseCommand, releaseSpec } from './release-command.js'
import { runCommand, runSpec } from './run-command.js'
import { statusCommand, statusSpec } from './status-command.js'
import { UsageError } from './usage-error.js'

interface Command {
  readonly spec: CommandSpec
  readonly run: (argv: readonly string[]) => Promise<number>
}

/** Every command, in the order `baton --help` lists them. */
export const COMMANDS: readonly Command[] = [
  { spec: runSpec, run: runCommand },
  { spec: lockSpec, run: lockCommand },
  { spec: electSpec, run: electCommand },
  { spec: statusSpec, run: statusCommand },
  { spec: lsSpec, run: lsCommand },
  { spec: releaseSpec, run: releaseCommand },
  { spec: demoSpec, run: demoCommand },
  { spec: conformanceSpec, run: conformanceCommand },
]

/** `baton --help`: the command list and exit codes come from the specs and exit-codes.ts. */
export function topLevelHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.spec.synopsis.length)) + 2
  const commands = COMMANDS.map((c) => `  ${c.spec.synopsis.padEnd(width)}${c.spec.summary}`)
  return `Usage: baton COMMAND [options]
       baton help COMMAND

Distributed locks from the command line. Every command takes --url URL (default:
$BATON_URL, else the embedded sqlite:.baton/locks.db) and --help.

Commands:
${commands.join('\n')}

URLs: memory:, sqlite:PATH, redis://, rediss://, postgres://, postgresql://, mysql://,
mariadb://, etcd://, etcds://, zk:// (drivers other than memory: and sqlite: are
separate packages, named by the error when one is missing)

Exit codes: the same meaning for every command
${exitCodeLines()}
`
}

/** Runs one `baton` invocation and resolves to its exit code; never throws. */
export async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv
  try {
    if (name === undefined) {
      // Called with nothing: a usage error, so the usage goes to stderr.
      process.stderr.write(topLevelHelp())
      return EXIT.USAGE
    }
    if (name === '--help' || name === '-h') {
      process.stdout.write(topLevelHelp())
      return EXIT.OK
    }
    if (name === 'help') return help(rest)
    if (name === '--version' || name === '-V') {
      process.stdout.write(`${version()}\n`)
      return EXIT.OK
    }
    return await find(name).run(rest)
  } catch (err) {
    return report(err)
  }
}

/** `baton help [COMMAND]`: that command's help, or the top-level help. */
function help(argv: readonly string[]): number {
  if (argv.length > 1) throw new UsageError('baton help takes one COMMAND (see baton --help)')
  const [name] = argv
  if (name === undefined) process.stdout.write(topLevelHelp())
  else printHelp(find(name).spec)
  return EXIT.OK
}

function find(name: string): Command {
  const command = COMMANDS.find((c) => c.spec.name === name)
  if (command === undefined) throw new UsageError(`unknown command "${name}" (see baton --help)`)
  return command
}

/** One line on stderr, no stack trace (BATON_DEBUG=1 adds it), and the exit code. */
function report(err: unknown): number {
  const message = err instanceof Error ? err.message : String(err)
  warn(message.split('\n')[0] ?? message)
  if (process.env.BATON_DEBUG === '1') {
    // The whole cause chain: a stage error's cause is the backend's own error.
    for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; depth++) {
      process.stderr.write(`${depth === 0 ? '' : 'Caused by: '}${safe(e.stack ?? e.message)}\n`)
      e = e.cause
    }
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
