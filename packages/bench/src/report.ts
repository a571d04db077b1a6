import { mkdir, writeFile } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { handoffChart, keysChart } from './charts.js'
import {
  renderFailures,
  renderHandoff,
  renderKeys,
  renderTable,
  renderUncontended,
  semaphoreRowsOf,
  sharedRowsOf,
} from './format.js'
import type { LoadWindow, Machine } from './machine.js'
import type { BenchmarkReport } from './run-benchmark.js'
import { quantile } from './stats.js'
import { checkTargets, renderVerdicts } from './targets.js'

const loads = (l: readonly number[]) =>
  l.length === 0 ? '-' : l.map((v) => v.toFixed(2)).join(' / ')
const pct = (v: number) => (Number.isFinite(v) ? `${v.toFixed(0)}%` : 'unknown')

/** The machine, its load and the server lines of the report. */
export function renderMachine(machine: Machine, report: BenchmarkReport): string {
  const servers = report.backends.map((b) =>
    b.running === undefined
      ? `- ${b.name}: not available (${b.error ?? 'unknown error'})`
      : `- ${b.name}: ${b.running.version}; ${b.running.provisioning}`,
  )
  return [
    `- CPU: ${machine.cpu}, ${machine.cores} cores`,
    `- Memory: ${machine.memoryGiB} GiB`,
    `- OS: ${machine.os}; Node ${machine.node}`,
    `- Machine busy over the whole benchmark: ${pct(machine.busyPct)} of all cores (/proc/stat; the bench and its servers included)`,
    `- Load average (1 / 5 / 15 min): ${loads(machine.loadStart)} at start, ${loads(machine.loadEnd)} at end`,
    ...servers,
  ].join('\n')
}

/** The load of every run, as a table. */
export function renderLoad(windows: readonly LoadWindow[]): string {
  const lines = [
    '| Window | Duration (s) | Machine busy (all cores) | Load average at start (1 / 5 / 15) | at end |',
    '|---|--:|--:|--:|--:|',
  ]
  for (const w of windows) {
    lines.push(
      `| ${w.label} | ${w.seconds.toFixed(0)} | ${pct(w.busyPct)} | ${loads(w.loadStart)} | ${loads(w.loadEnd)} |`,
    )
  }
  return lines.join('\n')
}

const FLOORS = `- **What every floor pays.** Owner ids: every floor draws a random 128-bit id per
  acquisition from the OS CSPRNG in batches of 256 (\`contenders/owner-id.ts\`), exactly as
  core's \`newOwnerId\` does; the ZooKeeper floor's node names carry a \`randomUUID\`, as
  Curator's protected mode (and Baton's driver) do. Fences, where the design requires the
  driver to make one:
  - Redis (floor): one script \`SET key owner NX PX ttl\` + \`INCR\` of the key's fence
    counter, then compare-and-delete (EVALSHA): 2 round trips, a fence per grant, as the
    design's acquire. The former floor, plain \`SET NX PX\` without a fence, is shown as a
    *reference* row beside it.
  - Redis quorum (redlock, floor): the Redis floor's script on each of the 3 nodes in parallel,
    granted on a majority with the largest of its counters as the fence, compare-and-delete
    everywhere. The bare algorithm without a fence (plain \`SET NX PX\`, as node-redlock
    sends) is shown as a *reference* row.
  - PostgreSQL: \`pg_try_advisory_lock\` + \`pg_advisory_unlock\` (named prepared statements)
    on one connection; no fence (Baton reads a \`CACHE 1\` sequence per grant).
  - MySQL/MariaDB (floor): one statement that takes \`GET_LOCK(name, 0)\` and, when granted,
    bumps the name's row of an InnoDB fence table (\`INSERT ... WHERE GET_LOCK(...) = 1 ON
    DUPLICATE KEY UPDATE fence = LAST_INSERT_ID(fence + 1)\`), then \`RELEASE_LOCK(name)\`, on
    one connection: 2 round trips, a durable fence per grant, as the design's acquire. The
    bare \`GET_LOCK\` + \`RELEASE_LOCK\` without a fence is shown as a *reference* row.
  - SQLite: one autocommit upsert that only overwrites an expired row + an owner-checked
    delete, on one better-sqlite3 connection with the driver's pragmas; no fence counter
    (Baton keeps one per key).
  - etcd: one txn put-if-absent of \`key/<lease>\` with a reused lease plus a range read of
    the first creator, then a delete: 2 writes; the fence (create revision) comes free.
  - ZooKeeper: create an ephemeral sequential node, getChildren, delete; the fence (czxid)
    comes free.
  - memory: MemoryDriver's acquire and release called directly (so that pair is core's overhead).
  Where a floor takes no fence and Baton does, the difference is part of Baton's cost and the
  ratio says so; the per-driver helpers own those floors.
- **Handoff references.** Redis, PostgreSQL, MySQL and SQLite are judged against
  PostgreSQL's server-side wait (each worker blocks in \`pg_advisory_lock\` on its own
  connection). For the other backends it runs in their own passes, between their
  contenders (the row "floor: postgres ..., same passes"), so that a ratio divides figures
  of the same minutes, not of PostgreSQL's turn minutes away; MySQL's own \`GET_LOCK\`
  server-side wait shows as a reference row. etcd is
  judged against the best raw watch recipe (Go's Mutex on one anchored watch stream),
  ZooKeeper against the raw Curator recipe with a predecessor watch.
- **Independent keys.** The floor at its natural best: Redis, etcd, ZooKeeper, SQLite and
  memory one client for every key (Redis: one connection, commands pipelined as they are
  issued); PostgreSQL and MySQL one connection per key (a session runs one statement at a time).`

function method(report: BenchmarkReport): string {
  const p = report.plan.profile
  const u = p.uncontended
  const h = p.handoff
  const k = p.keys
  return `## Method

- Rounds are the outer loop: every scenario of every backend runs once per round, and each
  figure is the median over ${report.runs} rounds ("min-max" the smallest and largest round).
  "vs floor" is the median over rounds of (this row / the floor's row of the same round):
  for cycles/s higher is better, for times lower is better. The machine's busy share
  (from /proc/stat deltas, all cores, the bench and its servers included) and its load
  average are recorded for every round (above) and stored with the figures in
  \`benchmarks.json\`. Timings on a shared machine are noisy; compare ratios, not absolute figures.
${FLOORS}
- **Uncontended** (primary figure): every contender of a backend is open at once in one
  process, each on its own key, and measured in interleaved blocks of ${u.blockMs} ms: each
  of ${u.rounds} rounds runs one block of every contender in a freshly shuffled order (after
  a ${u.warmupMs} ms warm-up block each), so that the drift of a shared machine hits all
  alike. A contender's figure is the median over its blocks of cycles/s; "blocks p25-p75"
  is the spread over blocks. Client CPU per cycle is \`process.cpuUsage()\` around each
  block over its cycles (median over blocks). Round trips per cycle are counted on the
  wire, through a counting proxy, in a separate untimed pass of 50 cycles. Baton is a
  \`Locker\` (default options, renewal on) calling \`acquire(key, { waitMs: 5000 })\` and
  \`release()\`; \`Locker.tryAcquire\` is shown too.
- **Independent keys** (${k.counts.join(', ')}): N concurrent loops in one process, loop i
  acquiring and releasing key i back to back: Baton through one \`Locker\`, the floor at its
  natural best. Every (contender, N) pair is an entry of the same shuffled-block interleave
  (${k.rounds} rounds of ${k.blockMs} ms blocks); the figure is all loops' cycles/s together.
  Server sessions and round trips per cycle at the two largest counts come from a separate
  untimed pass through the counting proxy.
- **Handoff** (${h.processes.join(', ')} processes): worker processes (\`child_process.fork\`,
  one pool reused across rounds) contend for one key for ${h.warmupMs} ms of warm-up (not
  counted) and a measured window of ${h.durationMs} ms per round${h.passes > 1 ? `, in ${h.passes} passes of ${Math.round(h.durationMs / h.passes)} ms run in mirrored order (floor, Baton, peer, peer, Baton, floor: a drift of the machine weighs on every contender alike; each pass has its own warm-up, and the figures pool the passes)` : ''}, hold about ${h.holdMs} ms
  (\`setTimeout\`) and pause ${h.pauseMs} ms between attempts. Every wait lasts until 1 s
  after the window (at least 1 s); one that ends without the lock is a *timed-out wait*. Timestamps
  come from \`process.hrtime.bigint()\`, which on Linux reads CLOCK_MONOTONIC, one clock for
  every process (each worker's is checked against the parent's with a message round trip).
  *Idle per handoff* = next grant seen by the new holder minus the moment the previous holder
  started its release, over handoffs where the new holder was already waiting. *Acquire* =
  grant minus request. *Grants in arrival order* = share of contested grants (another worker
  was waiting too) that went to the worker whose request came first, by the workers' own
  request timestamps (requests sent closer together than the client-to-server latency can
  look misordered, so the reference floor shows what this machine allows). *Self
  re-acquire* = consecutive grants to the same worker. *Shares* = each worker's share of the
  grants (busiest and least busy; all in \`benchmarks.json\`). *Overlaps* counts grants seen
  before the previous holder began releasing (must be 0). *Client CPU per grant* = the
  CPU time (user + system, \`process.cpuUsage()\`) of every worker process over its whole
  loop, warm-up included, divided by every grant of the round: the holder's and the
  waiters' work together (on a machine with fewer cores than workers and servers, this
  CPU also delays the next grant). *Round trips / scripts per
  grant* come from a separate untimed pass at ${h.countAt} processes (${h.countMs} ms) with every
  worker connected through the counting proxy: request bursts per connection (PostgreSQL:
  \`Query\` and \`Sync\` messages), and on Redis the EVAL/EVALSHA/FCALL commands, over every
  grant of the pass (release and renewal traffic included); etcd (multiplexed HTTP/2) and
  SQLite (no server) have no counter.
- **Shared locks** (${p.modes.readers.join(', ')} readers): R reader processes
  (\`acquire(key, { mode: 'shared' })\`) and one writer process (exclusive) contend for one
  key in the handoff's loop (hold ${p.modes.holdMs} ms, longer than a grant's round trips so holders can overlap, pause ${p.modes.pauseMs} ms, ${p.modes.warmupMs} ms warm-up, ${p.modes.durationMs} ms
  window, worker processes from the handoff's pool). The floor of each round is the same
  R + 1 processes all exclusive, so "vs floor" of *reader acquisitions/s* is what sharing
  gains over a mutex, and of *writer acquire p50/p99* what the writer pays for its readers.
  *Writer share* is the writer's share of all grants (0 is a starved writer, R2);
  *writer beside another holder* counts writer holds that overlapped any other hold over
  the whole round (must be 0, R1); *most readers at once* is the peak of concurrent reader
  holds. Backends whose driver does not declare \`capabilities.sharedLocks\` are skipped
  (the run's log names them).
- **Semaphores** (limits ${p.modes.limits.join(', ')}): 2 x limit processes take permits of one
  semaphore (\`locker.semaphore(key, { limit }).acquire()\`), same shape; the floor is the
  same processes on the exclusive lock. *Most holders at once* is the peak of concurrent
  holds over the whole round (a hold: grant seen .. just before its release is sent): it
  must never exceed the limit (M1) and should reach it. Backends without
  \`capabilities.semaphores\` are skipped.
- **Scale** (in the first ${Math.min(report.runs, p.scaleRuns)} round${Math.min(report.runs, p.scaleRuns) === 1 ? '' : 's'} only: its figures are counts and
  bytes, not ratios): one process (forked with --expose-gc) acquires ${p.scale.keys.toLocaleString('en-US')} keys
  through one Locker (${p.scale.concurrency} acquisitions in flight), holds them for
  ${p.scale.intervals} renewal intervals (TTL/3 each, TTL ${p.scale.ttlMs} ms) and releases them.
  Round trips through the counting proxy; *driver renew calls* counts the \`renew\`/\`renewMany\`
  calls core made; *heap per held lock* is the heapUsed delta after two full GCs per lock.`
}

/** Chart files the report links, by name, with their SVG text. */
export function renderCharts(report: BenchmarkReport): Map<string, string> {
  const charts = new Map<string, string>()
  const distributions = report.results.distributions()
  for (const b of report.backends) {
    const svg = handoffChart(b.name, distributions)
    if (svg !== undefined) charts.set(`bench-handoff-${b.name}.svg`, svg)
  }
  const keys = keysChart(
    report.results.rows(),
    report.backends.map((b) => b.name),
  )
  if (keys !== undefined) charts.set('bench-keys.svg', keys)
  return charts
}

/** The whole docs/benchmarks.md; `charts` are the file names of the SVGs beside it. */
export function renderReport(
  machine: Machine,
  report: BenchmarkReport,
  charts: readonly string[],
  generatedAt: Date,
  seconds: number,
  jsonName = 'benchmarks.json',
): string {
  const rows = report.results.rows()
  const verdicts = checkTargets(rows, report.plan.profile.scale.keys)
  const scaleRows = rows.filter((r) => r.scenario === 'scale')
  const sharedRows = sharedRowsOf(rows)
  const semaphoreRows = semaphoreRowsOf(rows)
  const chartLines = charts.map((c) => `![${c.replace(/\.svg$/, '')}](${c})`).join('\n\n')
  return `# Baton benchmarks

Generated by \`pnpm bench\` (profile \`${report.plan.profile.name}\`, ${report.runs} round${report.runs === 1 ? '' : 's'}) at
${generatedAt.toISOString()} in ${seconds.toFixed(0)} s. Regenerate with \`pnpm bench\`;
\`pnpm bench --quick\` only checks that everything runs. Every figure, with its round, is
also in [${jsonName}](${jsonName}).

## Machine

${renderMachine(machine, report)}

${renderLoad(report.load)}

## Targets

${renderVerdicts(verdicts)}

## Charts

${chartLines === '' ? 'No chart (no handoff or keys figures in this run).' : chartLines}

## Uncontended acquire+release (interleaved ${report.plan.profile.uncontended.blockMs} ms blocks)

${renderUncontended(rows, report.runs)}

## Independent keys in one process

${renderKeys(rows, report.plan.profile.keys.counts)}

## Handoff under contention

${renderHandoff(rows)}

## Shared locks: R readers and 1 writer on one key

${sharedRows.length === 0 ? 'Not run (no backend in this run declares capabilities.sharedLocks).' : renderTable(sharedRows, report.runs)}

## Semaphores: 2 x limit contenders

${semaphoreRows.length === 0 ? 'Not run (no backend in this run declares capabilities.semaphores).' : renderTable(semaphoreRows, report.runs)}

## Scale

${scaleRows.length === 0 ? 'Not run.' : renderTable(scaleRows, Math.min(report.runs, report.plan.profile.scaleRuns))}

## Failures

${renderFailures(rows)}

${method(report)}
`
}

/** Every figure of the run, for tools: machine, load, verdicts, one entry per row with its per-round values, distribution quantiles. */
export function renderJson(machine: Machine, report: BenchmarkReport, generatedAt: Date): string {
  const qs = [0.05, 0.25, 0.5, 0.75, 0.9, 0.99]
  const samples = report.results.samples()
  const rows = report.results.rows()
  const figures = rows.map((r) => ({
    scenario: r.scenario,
    backend: r.backend,
    contender: r.contender,
    role: r.role,
    metric: r.metric,
    unit: r.unit,
    median: r.spread.median,
    ratio: r.ratio,
    ...(r.blocks === undefined ? {} : { blocks: r.blocks }),
    perRound: samples
      .filter(
        (s) =>
          s.scenario === r.scenario &&
          s.backend === r.backend &&
          s.contender === r.contender &&
          s.metric === r.metric,
      )
      .map((s) => ({
        round: s.run,
        value: s.value,
        ...(s.blocks === undefined ? {} : { blocks: s.blocks }),
      })),
    ...(r.notes.length === 0 ? {} : { failures: r.notes }),
  }))
  const distributions = report.results.distributions().map(({ values, ...d }) => ({
    ...d,
    count: values.length,
    ...(d.kind === 'shares'
      ? { values }
      : {
          quantiles: Object.fromEntries(qs.map((q) => [`p${q * 100}`, quantile(values, q)])),
          max: values.length === 0 ? null : Math.max(...values),
        }),
  }))
  const top: Record<string, unknown> = {
    generatedAt: generatedAt.toISOString(),
    profile: report.plan.profile,
    runs: report.runs,
    machine,
    load: report.load,
    servers: report.backends.map((b) => ({
      name: b.name,
      version: b.running?.version,
      provisioning: b.running?.provisioning,
      error: b.error,
    })),
    verdicts: checkTargets(rows, report.plan.profile.scale.keys),
    figures,
    distributions,
  }
  // NaN and Infinity are not JSON: null. Arrays one element a line, to keep the file small and diffable.
  const json = (v: unknown) =>
    JSON.stringify(v, (_key, value) =>
      typeof value === 'number' && !Number.isFinite(value) ? null : value,
    )
  const fields = Object.entries(top).map(([key, value]) =>
    Array.isArray(value)
      ? `  ${JSON.stringify(key)}: [\n${value.map((e) => `    ${json(e)}`).join(',\n')}\n  ]`
      : `  ${JSON.stringify(key)}: ${json(value)}`,
  )
  return `{\n${fields.join(',\n')}\n}\n`
}

/** The JSON file written beside a report: `benchmarks.md` -> `benchmarks.json`. */
export function jsonNameOf(file: string): string {
  return `${basename(file).replace(/\.md$/, '')}.json`
}

/** Writes the report, its charts beside it and the JSON figures (`<report>.json`). */
export async function writeReport(
  file: string,
  text: string,
  charts: ReadonlyMap<string, string>,
  json: string,
): Promise<string[]> {
  const dir = dirname(file)
  await mkdir(dir, { recursive: true })
  const written = [file]
  await writeFile(file, text)
  for (const [name, svg] of charts) {
    await writeFile(join(dir, name), svg)
    written.push(join(dir, name))
  }
  const jsonFile = join(dir, jsonNameOf(file))
  await writeFile(jsonFile, json)
  written.push(jsonFile)
  return written
}
