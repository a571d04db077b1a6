import type { CommandSpec } from './command-args.js'
import { parseCommandArgs, URL_OPTION } from './command-args.js'
import { EXIT } from './exit-codes.js'
import { checkLockName, openDriver, resolveUrl } from './open-backend.js'
import { print } from './output.js'
import { UsageError } from './usage-error.js'

const spec: CommandSpec = {
  name: 'release',
  options: { ...URL_OPTION, force: { type: 'boolean' }, yes: { type: 'boolean', short: 'y' } },
  minPositionals: 1,
  maxPositionals: 1,
  help: `Usage: baton release --force --yes NAME [--url URL]

Frees the lock NAME whoever holds it, where the backend allows (sqlite). The holder is
not told at once: it learns at its next renewal and loses the lock (a "baton run" holder
stops its command). The next holder gets a higher fence, so a fenced store still rejects
the old holder's late writes. A holder releases its own lock itself; this is for
operators clearing a lock after an incident.

Options:
  --force     required: this frees another process's lock
  -y, --yes   required: confirms it
  --url URL   lock backend (default: $BATON_URL, else sqlite:.baton/locks.db)
  -h, --help  show this help

Exit code 0 (also when NAME was not held); 1 on a backend error; 2 on a usage error or a
backend that cannot force a release.
`,
}

/** `baton release --force --yes NAME`: the operator's way to clear a stuck lock. */
export async function releaseCommand(argv: readonly string[]): Promise<number> {
  const args = parseCommandArgs(spec, argv)
  if (args === null) return EXIT.OK
  const name = checkLockName(args.positionals[0])
  if (args.values.force !== true) {
    throw new UsageError('baton release only frees a lock by force: add --force --yes')
  }
  if (args.values.yes !== true) {
    throw new UsageError(`refusing to force-release "${name}" without --yes`)
  }
  const driver = await openDriver(resolveUrl(args.values.url))
  try {
    if (driver.forceRelease === undefined) {
      throw new UsageError(`the ${driver.name} backend cannot force a release`)
    }
    const freed = await driver.forceRelease(name)
    print(freed ? `${name}: released by force` : `${name}: was not held`)
    return EXIT.OK
  } finally {
    await driver.close()
  }
}
