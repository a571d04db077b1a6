import type { ParseArgsConfig } from 'node:util'
import { parseArgs } from 'node:util'
import { UsageError } from './usage-error.js'

type OptionSpecs = NonNullable<ParseArgsConfig['options']>

/** What every command declares: its flags, positional arguments and help text. */
export interface CommandSpec {
  readonly name: string
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
      args: [...argv],
      options: { ...spec.options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    }) as CommandArgs
  } catch (err) {
    throw new UsageError(`${describeParseError(err)} (see baton ${spec.name} --help)`)
  }
  if (parsed.values.help === true) {
    process.stdout.write(spec.help.endsWith('\n') ? spec.help : `${spec.help}\n`)
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
