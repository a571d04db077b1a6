import type { LockDriver, LockInfo } from '@baton-lock/core'
import { atStage } from './backend-stage.js'
import type { CommandSpec } from './command-args.js'
import { parseCommandArgs, URL_OPTION } from './command-args.js'
import { EXIT } from './exit-codes.js'
import { checkLockName, openDriver, resolveUrl } from './open-backend.js'
import { print } from './output.js'
import { UsageError } from './usage-error.js'

export const statusSpec: CommandSpec = {
  name: 'status',
  synopsis: 'status NAME',
  summary: 'is NAME held? fence, lease left, owner (exit 0 held, 1 free)',
  options: { ...URL_OPTION, json: { type: 'boolean' }, semaphore: { type: 'boolean' } },
  minPositionals: 1,
  maxPositionals: 1,
  help: `Usage: baton status NAME [--url URL] [--semaphore] [--json]

Shows whether the lock NAME is held, with its fence, remaining lease and owner where the
backend can tell (every backend whose driver can inspect locks; one that cannot exits 2),
and, where it can tell, its mode (exclusive or shared), how many hold it, and an
election leader's value. --semaphore shows the semaphore NAME instead: permits held and
their limit. Read-only: a sqlite: file that does not exist is an error (exit 2), never
created.

Options:
  --url URL    lock backend (default: $BATON_URL, else sqlite:.baton/locks.db)
  --semaphore  the semaphore NAME (baton run --semaphore N NAME), not the lock
  --json       one JSON object: {"key","held","fence","ttlRemainingMs","owner"}, with
               "mode", "holders", "limit" and "value" where the backend reports them
  -h, --help   show this help

Exit codes: 0 held, 1 free, 2 usage error (no lock database at a sqlite: path, a backend
that cannot inspect), 7 backend error. For example:
  if baton status nightly-report; then echo busy; fi
`,
}

/** `baton status NAME`: what the backend knows about one lock. */
export async function statusCommand(argv: readonly string[]): Promise<number> {
  const args = parseCommandArgs(statusSpec, argv)
  if (args === null) return EXIT.OK
  const name = checkLockName(args.positionals[0])
  const url = resolveUrl(args.values.url)
  const driver = await openDriver(url, { existing: true })
  try {
    const semaphore = args.values.semaphore === true
    const info = await atStage(url, driver, `inspect "${name}" on {url}`, () =>
      inspect(driver, name, semaphore),
    )
    if (args.values.json === true) print(JSON.stringify(toJson(name, info)))
    else print(describe(name, info))
    return info?.held === true ? EXIT.OK : EXIT.FREE
  } finally {
    await driver.close()
  }
}

async function inspect(
  driver: LockDriver,
  key: string,
  semaphore: boolean,
): Promise<LockInfo | null> {
  if (driver.inspect === undefined) {
    throw new UsageError(`the ${driver.name} backend cannot inspect locks`)
  }
  if (!semaphore) return driver.inspect(key)
  // A driver without semaphores would answer for the lock NAME instead.
  if (driver.capabilities.semaphores !== true) {
    throw new UsageError(`the ${driver.name} driver does not support semaphores`)
  }
  return driver.inspect(key, 'semaphore')
}

/** One lock as JSON; fences are strings (they are 64-bit). */
export function toJson(key: string, info: LockInfo | null): Record<string, unknown> {
  if (info === null || !info.held) return { key, held: false }
  return {
    key,
    held: true,
    ...(info.fence === undefined ? {} : { fence: String(info.fence) }),
    ...(info.ttlRemainingMs === undefined
      ? {}
      : { ttlRemainingMs: Math.round(info.ttlRemainingMs) }),
    ...(info.owner === undefined ? {} : { owner: info.owner }),
    ...(info.mode === undefined ? {} : { mode: info.mode }),
    ...(info.holders === undefined ? {} : { holders: info.holders }),
    ...(info.limit === undefined ? {} : { limit: info.limit }),
    ...(info.value === undefined ? {} : { value: info.value }),
  }
}

/** One lock as a human-readable line. */
export function describe(key: string, info: LockInfo | null): string {
  if (info === null || !info.held) return `${key}: free`
  // Exclusive is what "held" says already; the other modes are named.
  const mode = info.mode === undefined || info.mode === 'exclusive' ? '' : ` ${info.mode}`
  const parts = [`${key}: held${mode}`]
  if (info.holders !== undefined && mode !== '') {
    const of = info.limit === undefined ? '' : ` of ${info.limit}`
    const noun = info.mode === 'semaphore' ? 'permit' : 'holder'
    parts.push(`${info.holders}${of} ${noun}${info.holders === 1 && of === '' ? '' : 's'}`)
  }
  if (info.fence !== undefined) parts.push(`fence ${info.fence}`)
  if (info.ttlRemainingMs !== undefined) {
    parts.push(`lease ${(info.ttlRemainingMs / 1000).toFixed(1)}s left`)
  }
  if (info.owner !== undefined) parts.push(`owner ${info.owner}`)
  if (info.value !== undefined) parts.push(`value ${JSON.stringify(info.value)}`)
  return parts.join(', ')
}
