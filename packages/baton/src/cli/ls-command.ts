import type { CommandSpec } from './command-args.js'
import { parseCommandArgs, URL_OPTION } from './command-args.js'
import { EXIT } from './exit-codes.js'
import { openDriver, resolveUrl } from './open-backend.js'
import { print } from './output.js'
import { describe, toJson } from './status-command.js'
import { UsageError } from './usage-error.js'

const spec: CommandSpec = {
  name: 'ls',
  options: { ...URL_OPTION, json: { type: 'boolean' } },
  minPositionals: 0,
  maxPositionals: 1,
  help: `Usage: baton ls [PREFIX] [--url URL] [--json]

Lists the locks held now (whose names start with PREFIX), where the backend can list
them (sqlite; see each driver's README). Exit code 0; 1 on a backend error; 2 on a
usage error or a backend that cannot list.

Options:
  --url URL   lock backend (default: $BATON_URL, else sqlite:.baton/locks.db)
  --json      a JSON array of {"key","held","fence","ttlRemainingMs","owner"}
  -h, --help  show this help
`,
}

/** `baton ls [PREFIX]`: every held lock the backend can list. */
export async function lsCommand(argv: readonly string[]): Promise<number> {
  const args = parseCommandArgs(spec, argv)
  if (args === null) return EXIT.OK
  const driver = await openDriver(resolveUrl(args.values.url))
  try {
    if (driver.list === undefined) {
      throw new UsageError(`the ${driver.name} backend cannot list locks`)
    }
    const rows = await driver.list(args.positionals[0] ?? '')
    if (args.values.json === true) {
      print(JSON.stringify(rows.map((row) => toJson(row.key, row))))
    } else {
      for (const row of rows) print(describe(row.key, row))
      if (rows.length === 0) print('no locks held')
    }
    return EXIT.OK
  } finally {
    await driver.close()
  }
}
