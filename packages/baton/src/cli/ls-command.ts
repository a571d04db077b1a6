import { atStage } from './backend-stage.js'
import type { CommandSpec } from './command-args.js'
import { parseCommandArgs, URL_OPTION } from './command-args.js'
import { EXIT } from './exit-codes.js'
import { openDriver, resolveUrl } from './open-backend.js'
import { print } from './output.js'
import { describe, toJson } from './status-command.js'
import { UsageError } from './usage-error.js'

export const lsSpec: CommandSpec = {
  name: 'ls',
  synopsis: 'ls [PREFIX]',
  summary: 'list held locks',
  options: { ...URL_OPTION, json: { type: 'boolean' } },
  minPositionals: 0,
  maxPositionals: 1,
  help: `Usage: baton ls [PREFIX] [--url URL] [--json]

Lists the locks held now (whose names start with PREFIX), on every backend whose driver
can list locks (each driver's README says; one that cannot exits 2). Read-only: a
sqlite: file that does not exist is an error (exit 2), never created.

Options:
  --url URL   lock backend (default: $BATON_URL, else sqlite:.baton/locks.db)
  --json      a JSON array of {"key","held","fence","ttlRemainingMs","owner"}
  -h, --help  show this help

Exit codes: 0 listed (also when none is held), 2 usage error (no lock database at a
sqlite: path, a backend that cannot list), 7 backend error.
`,
}

/** `baton ls [PREFIX]`: every held lock the backend can list. */
export async function lsCommand(argv: readonly string[]): Promise<number> {
  const args = parseCommandArgs(lsSpec, argv)
  if (args === null) return EXIT.OK
  const url = resolveUrl(args.values.url)
  const driver = await openDriver(url, { existing: true })
  try {
    const list = driver.list?.bind(driver)
    if (list === undefined) {
      throw new UsageError(`the ${driver.name} backend cannot list locks`)
    }
    const rows = await atStage(url, driver, 'list locks on {url}', () =>
      list(args.positionals[0] ?? ''),
    )
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
