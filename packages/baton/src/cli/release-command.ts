import { atStage } from './backend-stage.js'
import type { CommandSpec } from './command-args.js'
import { parseCommandArgs, URL_OPTION } from './command-args.js'
import { EXIT } from './exit-codes.js'
import { checkLockName, openDriver, resolveUrl } from './open-backend.js'
import { print } from './output.js'
import { UsageError } from './usage-error.js'

export const releaseSpec: CommandSpec = {
  name: 'release',
  synopsis: 'release --force --yes NAME',
  summary: 'free a lock whoever holds it (operators)',
  options: { ...URL_OPTION, force: { type: 'boolean' }, yes: { type: 'boolean', short: 'y' } },
  minPositionals: 1,
  maxPositionals: 1,
  help: `Usage: baton release --force --yes NAME [--url URL]

Frees the lock NAME whoever holds it, on every backend whose driver can force a release
(each driver's README says; one that cannot exits 2). The holder is not told at once: it learns at its next renewal and loses the lock (a "baton run" holder
stops its command). The next holder gets a higher fence, so a fenced store still rejects
the old holder's late writes. A holder releases its own lock itself; this is for
operators clearing a lock after an incident.

Options:
  --force     required: this frees another process's lock
  -y, --yes   required: confirms it
  --url URL   lock backend (default: $BATON_URL, else sqlite:.baton/locks.db)
  -h, --help  show this help

It never creates a lock database: a sqlite: file that does not exist is an error.

Exit codes: 0 released (also when NAME was not held), 2 usage error (missing --force or
--yes, no lock database at a sqlite: path, a backend that cannot force a release),
7 backend error.
`,
}

/** `baton release --force --yes NAME`: the operator's way to clear a stuck lock. */
export async function releaseCommand(argv: readonly string[]): Promise<number> {
  const args = parseCommandArgs(releaseSpec, argv)
  if (args === null) return EXIT.OK
  const name = checkLockName(args.positionals[0])
  if (args.values.force !== true) {
    throw new UsageError('baton release only frees a lock by force: add --force --yes')
  }
  if (args.values.yes !== true) {
    throw new UsageError(`refusing to force-release "${name}" without --yes`)
  }
  const url = resolveUrl(args.values.url)
  const driver = await openDriver(url, { existing: true })
  try {
    const forceRelease = driver.forceRelease?.bind(driver)
    if (forceRelease === undefined) {
      throw new UsageError(`the ${driver.name} backend cannot force a release`)
    }
    const freed = await atStage(url, driver, `force-release "${name}" on {url}`, () =>
      forceRelease(name),
    )
    print(freed ? `${name}: released by force` : `${name}: was not held`)
    return EXIT.OK
  } finally {
    await driver.close()
  }
}
