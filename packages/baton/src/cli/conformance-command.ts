import type { LockDriver } from '@baton-lock/core'
import type { CommandSpec } from './command-args.js'
import { parseCommandArgs, URL_OPTION } from './command-args.js'
import { EXIT } from './exit-codes.js'
import { openDriver, resolveUrl } from './open-backend.js'
import { print, warn } from './output.js'
import { UsageError } from './usage-error.js'

export const conformanceSpec: CommandSpec = {
  name: 'conformance',
  synopsis: 'conformance --url URL',
  summary: 'run the conformance kit against a live deployment',
  options: { ...URL_OPTION },
  minPositionals: 0,
  maxPositionals: 0,
  help: `Usage: baton conformance --url URL

Runs Baton's conformance kit against a live deployment: many independent drivers on
URL, checking exclusion, fencing, expiry, renewal, waiting, keys and hygiene, elections
and key sets, and shared locks and semaphores where the driver declares them. Uses keys
under a fresh namespace "baton-conformance-<8 hex>" per run; run it against a deployment
where a short burst of lock traffic is harmless.

Options:
  --url URL   the deployment to check (required)
  -h, --help  show this help

Exit codes: 0 every check passed, 2 usage error, 6 a check failed, 7 backend error.
`,
}

interface CheckResult {
  readonly group: string
  readonly name: string
  readonly status: 'passed' | 'failed' | 'skipped'
  readonly reason?: string
  readonly error?: unknown
  readonly durationMs: number
}

type RunChecks = (
  options: { name: string; createDriver: () => Promise<LockDriver>; namespacePrefix?: string },
  run: { onResult?: (result: CheckResult) => void },
) => Promise<CheckResult[]>

/** `baton conformance --url URL`: the kit's test-runner-free runner against a live backend. */
export async function conformanceCommand(argv: readonly string[]): Promise<number> {
  const args = parseCommandArgs(conformanceSpec, argv)
  if (args === null) return EXIT.OK
  if (typeof args.values.url !== 'string') {
    throw new UsageError('baton conformance needs --url URL (the deployment to check)')
  }
  const url = resolveUrl(args.values.url)
  if (url.scheme === 'memory') {
    throw new UsageError(
      'memory: is in-process; check a deployment (sqlite:, redis://, postgres://)',
    )
  }
  await (await openDriver(url)).close()
  const runChecks = await loadRunner()
  print(`conformance kit against ${url.display}`)
  const results = await runChecks(
    {
      name: url.display,
      createDriver: () => openDriver(url),
      namespacePrefix: 'baton-conformance',
    },
    { onResult: (result) => print(describeResult(result)) },
  )
  const count = (status: CheckResult['status']) => results.filter((r) => r.status === status).length
  print(
    `conformance: ${count('passed')} passed, ${count('failed')} failed, ${count('skipped')} skipped`,
  )
  return count('failed') === 0 ? EXIT.OK : EXIT.CHECK_FAILED
}

function describeResult(result: CheckResult): string {
  const title = `${result.group}: ${result.name}`
  if (result.status === 'passed') return `  ok    ${title} (${Math.round(result.durationMs)} ms)`
  if (result.status === 'skipped') return `  skip  ${title} (${result.reason ?? 'not applicable'})`
  const error = result.error instanceof Error ? result.error.message : String(result.error)
  return `  FAIL  ${title}: ${error.split('\n')[0]}`
}

/** The kit's runner entry, which never loads vitest; older builds may lack it. */
async function loadRunner(): Promise<RunChecks> {
  for (const specifier of ['@baton-lock/core/conformance/runner', '@baton-lock/core/conformance']) {
    try {
      const mod = (await import(specifier)) as Record<string, unknown>
      if (typeof mod.runChecks === 'function') return mod.runChecks as RunChecks
    } catch {
      // try the next entry
    }
  }
  warn('this build of @baton-lock/core has no test-runner-free conformance runner (runChecks)')
  throw new UsageError('baton conformance is not available in this build')
}
