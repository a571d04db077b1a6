import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

/** Scenario names accepted by --scenario. */
export const SCENARIOS = ['uncontended', 'keys', 'handoff', 'shared', 'semaphore', 'scale'] as const
export type ScenarioName = (typeof SCENARIOS)[number]

/** Everything a run needs to know, from the command line. */
export interface BenchArgs {
  readonly backends: readonly string[] | undefined
  readonly scenarios: readonly ScenarioName[]
  readonly quick: boolean
  /** Undefined: the profile's own (3 full, 1 quick). */
  readonly runs: number | undefined
  /** Markdown file to write; undefined with --no-write. */
  readonly outFile: string | undefined
  readonly help: boolean
}

export const USAGE = `pnpm bench [--backend redis,postgres,mysql,etcd,zookeeper,sqlite,memory]
           [--scenario uncontended,keys,handoff,shared,semaphore,scale] [--quick] [--runs N] [--out FILE | --no-write]

Starts its own servers through @baton-lock/test-matrix, runs every scenario N times (default 3;
1 with --quick) for each backend, prints the machine, its load, the target verdicts and the
tables (median, min-max over the runs, ratio to the floor), and writes them with the charts
(docs/*.svg) and the raw figures (docs/benchmarks.json) to docs/benchmarks.md.
--quick shortens every scenario (a check that everything runs, in under 4 minutes).`

const DEFAULT_OUT = fileURLToPath(new URL('../../../docs/benchmarks.md', import.meta.url))

function list(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined
  return value
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v !== '')
}

/** Parses `argv` (without node and script); throws a TypeError naming a bad option. */
export function parseBenchArgs(argv: readonly string[]): BenchArgs {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      backend: { type: 'string' },
      scenario: { type: 'string' },
      quick: { type: 'boolean', default: false },
      runs: { type: 'string' },
      out: { type: 'string' },
      'no-write': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  })
  const runs = values.runs === undefined ? undefined : Number(values.runs)
  if (runs !== undefined && (!Number.isInteger(runs) || runs < 1 || runs > 20))
    throw new RangeError(`--runs must be 1..20, got ${values.runs}`)
  const scenarios = list(values.scenario) ?? [...SCENARIOS]
  for (const s of scenarios) {
    if (!(SCENARIOS as readonly string[]).includes(s)) {
      throw new TypeError(`unknown scenario ${JSON.stringify(s)}; known: ${SCENARIOS.join(', ')}`)
    }
  }
  return {
    backends: list(values.backend),
    scenarios: scenarios as ScenarioName[],
    quick: values.quick === true,
    runs,
    outFile: values['no-write'] ? undefined : (values.out ?? DEFAULT_OUT),
    help: values.help === true,
  }
}
