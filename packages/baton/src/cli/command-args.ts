import type { ParseArgsConfig } from 'node:util'
import { parseArgs } from 'node:util'
import { UsageError } from './usage-error.js'

type OptionSpecs = NonNullable<ParseArgsConfig['options']>

/** What every command declares: its flags, positional arguments and help text. */
export interface CommandSpec {
  readonly name: string
  /** The command line as `baton --help` lists it, e.g. `run NAME -- CMD...`. */
  readonly synopsis: string
  /** One line for `baton --help`. */
  readonly summary: string
  readonly options: OptionSpecs
  readonly minPositionals: number
  readonly maxPositionals: number
  readonly help: string
}

/** Flags shared by commands that talk to a backend. */
export const URL_OPTION = { url: { type: 'string' } } as const

/** Parsed flags (string or boolean by their spec) and positional arguments. */
export interface CommandArgs {
  readonly values: Readonly<Record<string, string | boolean | undefined>>
  readonly positionals: readonly string[]
}

/**
 * `node:util` parseArgs with one-line errors that name the command, plus `--help`.
 * Returns null when help was printed.
 */
export function parseCommandArgs(spec: CommandSpec, argv: readonly string[]): CommandArgs | null {
  let parsed: CommandArgs
  try {
    parsed = parseArgs({
      args: joinNegativeValues(spec, argv),
      options: { ...spec.options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    }) as CommandArgs
  } catch (err) {
    throw new UsageError(`${describeParseError(err)} (see baton ${spec.name} --help)`)
  }
  if (parsed.values.help === true) {
    printHelp(spec)
    return null
  }
  const count = parsed.positionals.length
  if (count < spec.minPositionals || count > spec.maxPositionals) {
    const extra =
      count > spec.maxPositionals
        ? `unexpected argument "${parsed.positionals[spec.maxPositionals]}"`
        : 'missing argument'
    throw new UsageError(`${extra} for baton ${spec.name} (see baton ${spec.name} --help)`)
  }
  return parsed
}

/** A command's help on stdout, ending in one newline. */
export function printHelp(spec: CommandSpec): void {
  process.stdout.write(spec.help.endsWith('\n') ? spec.help : `${spec.help}\n`)
}

/**
 * `--ttl -5s` as `--ttl=-5s`: parseArgs takes a value that starts with "-" for an option,
 * so a negative number would never reach the duration parser and its error. Only values
 * that look like negative numbers are joined; `--url --json` still says "needs a value".
 */
function joinNegativeValues(spec: CommandSpec, argv: readonly string[]): string[] {
  const out: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string
    if (arg === '--') {
      out.push(...argv.slice(i))
      break
    }
    const next = argv[i + 1]
    const name = arg.startsWith('--') ? arg.slice(2) : undefined
    const option = name === undefined ? undefined : spec.options[name]
    if (option?.type === 'string' && next !== undefined && /^-\.?\d/.test(next)) {
      out.push(`${arg}=${next}`)
      i++
    } else {
      out.push(arg)
    }
  }
  return out
}

function describeParseError(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code
  const message = err instanceof Error ? err.message : String(err)
  const option = /'(-[^']*)'/.exec(message)?.[1]
  switch (code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option ${option ?? message}`
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return option === undefined
        ? (message.split('\n')[0] ?? message)
        : `option ${option.split(' ')[0]} needs a value`
    default:
      return message.split('\n')[0] ?? message
  }
}
