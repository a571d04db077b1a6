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
