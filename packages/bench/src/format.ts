import type { Row } from './results.js'

/** A number for the table: 3 significant figures, thousands separated, `-` for NaN. */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return '-'
  const abs = Math.abs(value)
  if (abs >= 1000) return Math.round(value).toLocaleString('en-US')
  if (abs >= 100) return value.toFixed(0)
  if (abs >= 10) return value.toFixed(1)
  if (abs >= 1) return value.toFixed(2)
  if (abs === 0) return '0'
  return value.toPrecision(2)
}

function formatRatio(ratio: number | undefined): string {
  return ratio === undefined || !Number.isFinite(ratio) ? '' : `${ratio.toFixed(2)}x`
}

const SHOWN_UNITS = new Set(['ms', 'µs', 'bytes', '%'])

const escapeCell = (text: string) => text.replaceAll('|', '\\|')

/** The one results table, in markdown. */
export function renderTable(rows: readonly Row[], runs: number): string {
  const lines = [
    `| Scenario | Backend | Contender | Metric | Median | Min-max (${runs} runs) | vs floor |`,
    '|---|---|---|---|--:|--:|--:|',
  ]
  for (const r of rows) {
    const unit = SHOWN_UNITS.has(r.unit) ? ` (${r.unit})` : ''
    const range =
      r.spread.runs === 0 ? '-' : `${formatNumber(r.spread.min)}-${formatNumber(r.spread.max)}`
    const failed =
      r.notes.length === 0 ? '' : ` (failed ${r.notes.length}x: ${escapeCell(r.notes[0] ?? '')})`
    lines.push(
      `| ${r.scenario} | ${r.backend} | ${escapeCell(r.contender)} | ${escapeCell(r.metric)}${unit}${failed} | ${formatNumber(r.spread.median)} | ${range} | ${formatRatio(r.ratio)} |`,
    )
  }
  return lines.join('\n')
}

/** The contenders of `rows` that match `pick`, in first-seen order, as [backend, contender] pairs. */
function contendersOf(
  rows: readonly Row[],
  pick: (r: Row) => boolean,
): Array<[string, string, string]> {
  const seen = new Map<string, [string, string, string]>()
  for (const r of rows) {
    if (!pick(r)) continue
    const id = `${r.scenario}|${r.backend}|${r.contender}`
    if (!seen.has(id)) seen.set(id, [r.scenario, r.backend, r.contender])
  }
  return [...seen.values()]
}

type Lookup = (metric: string) => Row | undefined

function lookup(
  rows: readonly Row[],
  scenario: string,
  backend: string,
  contender: string,
): Lookup {
  return (metric) =>
    rows.find(
      (r) =>
        r.scenario === scenario &&
        r.backend === backend &&
        r.contender === contender &&
        r.metric === metric &&
        r.spread.runs > 0,
    )
}

const median = (r: Row | undefined) => (r === undefined ? '-' : formatNumber(r.spread.median))
const withRatio = (r: Row | undefined) =>
  r === undefined
    ? '-'
    : `${formatNumber(r.spread.median)}${r.ratio === undefined ? '' : ` (${formatRatio(r.ratio)})`}`
const runsRange = (r: Row | undefined) =>
  r === undefined || r.spread.runs < 2
    ? '-'
    : `${formatNumber(r.spread.min)}-${formatNumber(r.spread.max)}`
const blockRange = (r: Row | undefined) =>
  r?.blocks === undefined
    ? '-'
    : `${formatNumber(r.blocks.p25)}-${formatNumber(r.blocks.p75)} (${r.blocks.n})`

/** Rows of every contender that failed in some run, as a list. */
export function renderFailures(rows: readonly Row[]): string {
  const failed = contendersOf(rows, (r) => r.notes.length > 0)
  if (failed.length === 0) return 'No contender failed.'
  return failed
    .map(([scenario, backend, contender]) => {
      const row = rows.find(
        (r) => r.scenario === scenario && r.backend === backend && r.contender === contender,
      )
      return `- ${scenario}, ${backend}, ${escapeCell(contender)}: failed ${row?.notes.length ?? 0}x: ${escapeCell(row?.notes[0] ?? '')}`
    })
    .join('\n')
}

/** The uncontended (and core overhead) table: one line per contender. */
export function renderUncontended(rows: readonly Row[], runs: number): string {
  const lines = [
    `| Backend | Contender | cycles/s: median of blocks (vs floor) | blocks p25-p75 (blocks) | min-max over ${runs} runs | cycle p50 / p99 (µs) | client CPU per cycle (µs, vs floor) | round trips per cycle |`,
    '|---|---|--:|--:|--:|--:|--:|--:|',
  ]
  for (const [scenario, backend, contender] of contendersOf(
    rows,
    (r) => r.scenario === 'uncontended' || r.scenario === 'core overhead',
  )) {
    const get = lookup(rows, scenario, backend, contender)
    const cycles = get('cycles/s')
    lines.push(
      `| ${backend} | ${escapeCell(contender)} | ${withRatio(cycles)} | ${blockRange(cycles)} | ${runsRange(cycles)} | ${median(get('cycle p50'))} / ${median(get('cycle p99'))} | ${withRatio(get('client CPU per cycle'))} | ${median(get('round trips per cycle'))} |`,
    )
  }
  return lines.join('\n')
}

/** The independent-keys table: one line per contender, one column per key count. */
export function renderKeys(rows: readonly Row[], counts: readonly number[]): string {
  const most = Math.max(...counts)
  const second = [...counts].sort((a, b) => b - a)[1]
  const lines = [
    `| Backend | Contender | ${counts.map((n) => `${n} key${n === 1 ? '' : 's'}: cycles/s (vs floor)`).join(' | ')} | CPU per cycle at ${most} keys (µs) | server sessions at ${second ?? most} / ${most} keys | round trips per cycle at ${most} keys |`,
    `|---|---|${counts.map(() => '--:').join('|')}|--:|--:|--:|`,
  ]
  for (const [scenario, backend, contender] of contendersOf(rows, (r) => r.scenario === 'keys')) {
    const get = lookup(rows, scenario, backend, contender)
    const sessions =
      get(`server sessions at ${most} keys`) === undefined
        ? '-'
        : `${median(get(`server sessions at ${second ?? most} keys`))} / ${median(get(`server sessions at ${most} keys`))}`
    lines.push(
      `| ${backend} | ${escapeCell(contender)} | ${counts.map((n) => withRatio(get(`cycles/s at ${n} keys`))).join(' | ')} | ${median(get(`client CPU per cycle at ${most} keys`))} | ${sessions} | ${median(get(`round trips per cycle at ${most} keys`))} |`,
    )
  }
  return lines.join('\n')
}

/** The handoff table: one line per backend, process count and contender. */
export function renderHandoff(rows: readonly Row[]): string {
  const lines = [
    '| Backend | Processes | Contender | cycles/s | idle p50 (vs reference) | idle p99 (vs reference) | client CPU per grant, all workers (µs, vs reference) | acquire p50 / p99 / max (ms) | grants in arrival order (%) | self re-acquire (%) | shares busiest / least (%) | round trips / scripts per grant | timed-out waits | overlaps |',
    '|---|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
  ]
  const handoffs = contendersOf(rows, (r) => r.scenario.startsWith('handoff, '))
  const processes = (scenario: string) => Number(/(\d+) processes/.exec(scenario)?.[1])
  handoffs.sort((a, b) => a[1].localeCompare(b[1]) || processes(a[0]) - processes(b[0]))
  const order = [...new Set(handoffs.map(([, b]) => b))]
  const firstSeen = [
    ...new Set(contendersOf(rows, (r) => r.scenario.startsWith('handoff, ')).map(([, b]) => b)),
  ]
  order.sort((a, b) => firstSeen.indexOf(a) - firstSeen.indexOf(b))
  for (const backend of order) {
    for (const [scenario, , contender] of handoffs.filter(([, b]) => b === backend)) {
      const get = lookup(rows, scenario, backend, contender)
      const trips = get('round trips per grant (counted pass)')
      const scripts = get('scripts per grant (counted pass)')
      const counted =
        trips === undefined
          ? '-'
          : `${median(trips)}${scripts === undefined ? '' : ` / ${median(scripts)}`}`
      lines.push(
        `| ${backend} | ${processes(scenario)} | ${escapeCell(contender)} | ${median(get('cycles/s'))} | ${withRatio(get('idle per handoff p50'))} | ${withRatio(get('idle per handoff p99'))} | ${withRatio(get('client CPU per grant (all workers)'))} | ${median(get('acquire p50'))} / ${median(get('acquire p99'))} / ${median(get('acquire max'))} | ${median(get('grants in arrival order'))} | ${median(get('self re-acquire'))} | ${median(get('share of worker busiest'))} / ${median(get('share of worker least busy'))} | ${counted} | ${get('timed-out waits') === undefined ? '-' : formatNumber(get('timed-out waits')?.spread.max ?? Number.NaN)} | ${get('overlapping holds') === undefined ? '-' : formatNumber(get('overlapping holds')?.spread.max ?? Number.NaN)} |`,
      )
    }
  }
  return lines.join('\n')
}

/** Rows of the shared-lock scenarios (`shared lock, R readers + 1 writer`). */
export const sharedRowsOf = (rows: readonly Row[]) =>
  rows.filter((r) => r.scenario.startsWith('shared lock'))

/** Rows of the semaphore scenarios (`semaphore, limit N, ...`). */
export const semaphoreRowsOf = (rows: readonly Row[]) =>
  rows.filter((r) => r.scenario.startsWith('semaphore,'))

/** The shared-lock and semaphore tables (ratios to the exclusive floor of each round). */
export function renderModes(rows: readonly Row[], runs: number): string {
  const shared = sharedRowsOf(rows)
  const semaphore = semaphoreRowsOf(rows)
  return [
    shared.length === 0
      ? 'Shared locks: not run (no backend of this run declares capabilities.sharedLocks).'
      : renderTable(shared, runs),
    semaphore.length === 0
      ? 'Semaphores: not run (no backend of this run declares capabilities.semaphores).'
      : renderTable(semaphore, runs),
  ].join('\n\n')
}
