import type { CommandSpec } from './command-args.js'
import { parseCommandArgs, URL_OPTION } from './command-args.js'
import { EXIT } from './exit-codes.js'
import { openDriver, resolveUrl } from './open-backend.js'
import { print, warn } from './output.js'
import { UsageError } from './usage-error.js'

const spec: CommandSpec = {
  name: 'conformance',
  options: { ...URL_OPTION },
  minPositionals: 0,
  maxPositionals: 0,
  help: `Usage: baton conformance --url URL

Runs Baton's conformance kit against a live deployment: many independent drivers on
URL, checking exclusion, fencing, expiry, renewal, waiting, keys and hygiene. Uses
keys under the namespace "baton-conformance:"; run it against a deployment where a
short burst of lock traffic is harmless.

Options:
  --url URL   the deployment to check (required)
  -h, --help  show this help

Exit code 0 when every check passes, 1 when one fails, 2 on a usage error.
`,
}

type KitRunner = (options: {
  name: string
  createDriver: () => Promise<unknown>
  log?: (line: string) => void
}) => Promise<{ passed: number; failed: number; skipped: number }>

/** `baton conformance --url URL`: the kit's test-runner-free runner against a live backend. */
export async function conformanceCommand(argv: readonly string[]): Promise<number> {
  const args = parseCommandArgs(spec, argv)
  if (args === null) return EXIT.OK
  if (typeof args.values.url !== 'string') {
    throw new UsageError('baton conformance needs --url URL (the deployment to check)')
  }
  const url = resolveUrl(args.values.url)
  const runner = await loadRunner()
  const result = await runner({
    name: url.display,
    createDriver: () => openDriver(url),
    log: (line) => print(line),
  })
  print(`conformance: ${result.passed} passed, ${result.failed} failed, ${result.skipped} skipped`)
  return result.failed === 0 ? EXIT.OK : EXIT.BACKEND
}

async function loadRunner(): Promise<KitRunner> {
  const specifier: string = '@baton/core/conformance'
  let mod: Record<string, unknown>
  try {
    mod = (await import(specifier)) as Record<string, unknown>
  } catch {
    mod = {}
  }
  const runner = mod.runConformanceStandalone
  if (typeof runner !== 'function') {
    warn('this build of @baton/core has no test-runner-free conformance runner yet')
    throw new UsageError('baton conformance is not available in this build')
  }
  return runner as KitRunner
}
