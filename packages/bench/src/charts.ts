import type { Distribution, Row } from './results.js'
import { quantile } from './stats.js'

/*
 * Hand-written SVG charts (no dependency): handoff acquire-latency distributions per backend
 * and process count, and throughput against the number of independent keys. Plain SVG 1.1
 * with inline attributes, so GitHub renders the files as images.
 */

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#17becf']
const FLOOR = '#222222'
const REFERENCE = '#888888'

const esc = (text: string) =>
  text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')

const num = (v: number) => (Number.isFinite(v) ? Number(v.toFixed(1)).toString() : '0')

/** Colours by role: floors black, references grey, Baton blue, peers the rest of the palette. */
function colours(contenders: ReadonlyArray<{ name: string; role: string }>): Map<string, string> {
  const out = new Map<string, string>()
  let peer = 1
  for (const c of contenders) {
    if (out.has(c.name)) continue
    if (c.role === 'floor') out.set(c.name, FLOOR)
    else if (c.role === 'reference') out.set(c.name, REFERENCE)
    else if (c.role === 'baton') out.set(c.name, PALETTE[0] as string)
    else out.set(c.name, PALETTE[peer++ % PALETTE.length] as string)
  }
  return out
}

function niceTicksLog(min: number, max: number): number[] {
  const ticks: number[] = []
  for (let e = Math.floor(Math.log10(min)); e <= Math.ceil(Math.log10(max)); e++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** e
      if (v >= min * 0.999 && v <= max * 1.001) ticks.push(v)
    }
  }
  return ticks
}

function label(v: number): string {
  if (v >= 1000) return `${v / 1000}k`
  if (v >= 1) return String(v)
  return String(Number(v.toPrecision(2)))
}

/**
 * One SVG per backend: for each process count a group of boxes, one per contender, of the
 * acquire latency (ms, log scale): box p25-p75, bar p50, whiskers p5-p99, dot max.
 */
export function handoffChart(
  backend: string,
  distributions: readonly Distribution[],
): string | undefined {
  const mine = distributions.filter(
    (d) => d.backend === backend && d.kind === 'acquire' && d.values.length > 0,
  )
  if (mine.length === 0) return undefined
  const counts = [...new Set(mine.map((d) => d.processes))].sort((a, b) => a - b)
  const contenders = [
    ...new Map(mine.map((d) => [d.contender, { name: d.contender, role: d.role }])).values(),
  ]
  const colour = colours(contenders)
  const stats = mine.map((d) => ({
    d,
    p5: quantile(d.values, 0.05),
    p25: quantile(d.values, 0.25),
    p50: quantile(d.values, 0.5),
    p75: quantile(d.values, 0.75),
    p99: quantile(d.values, 0.99),
    max: Math.max(...d.values),
  }))
  const lo = Math.max(0.01, Math.min(...stats.map((s) => s.p5)))
  const hi = Math.max(lo * 10, ...stats.map((s) => s.max))
  const yMin = 10 ** Math.floor(Math.log10(lo))
  const yMax = 10 ** Math.ceil(Math.log10(hi))
  const left = 60
  const top = 40
  const plotH = 300
  const box = 14
  const groupW = Math.max(90, contenders.length * (box + 8) + 30)
  const plotW = counts.length * groupW
  const legendH = 18 * contenders.length + 10
  const width = Math.max(640, left + plotW + 20)
  const height = top + plotH + 40 + legendH
  const y = (v: number) =>
    top +
    plotH -
    ((Math.log10(Math.max(v, yMin)) - Math.log10(yMin)) / (Math.log10(yMax) - Math.log10(yMin))) *
      plotH
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${left}" y="18" font-size="13" font-weight="bold">${esc(backend)}: handoff acquire latency (ms, log scale) by worker processes</text>`,
    `<text x="${left}" y="32" fill="#555">box p25-p75, bar p50, whiskers p5-p99, dot max; hold 1 ms, pause 2 ms</text>`,
  ]
  for (const t of niceTicksLog(yMin, yMax)) {
    parts.push(
      `<line x1="${left}" x2="${left + plotW}" y1="${num(y(t))}" y2="${num(y(t))}" stroke="#e5e5e5"/>`,
      `<text x="${left - 6}" y="${num(y(t) + 4)}" text-anchor="end">${label(t)}</text>`,
    )
  }
  parts.push(
    `<line x1="${left}" x2="${left}" y1="${top}" y2="${top + plotH}" stroke="#333"/>`,
    `<line x1="${left}" x2="${left + plotW}" y1="${top + plotH}" y2="${top + plotH}" stroke="#333"/>`,
  )
  counts.forEach((n, gi) => {
    const gx = left + gi * groupW
    parts.push(
      `<text x="${num(gx + groupW / 2)}" y="${top + plotH + 16}" text-anchor="middle">${n} processes</text>`,
    )
    contenders.forEach((c, ci) => {
      const s = stats.find((st) => st.d.processes === n && st.d.contender === c.name)
      if (s === undefined) return
      const x = gx + 15 + ci * (box + 8)
      const cx = x + box / 2
      const col = colour.get(c.name) as string
      parts.push(
        `<line x1="${num(cx)}" x2="${num(cx)}" y1="${num(y(s.p5))}" y2="${num(y(s.p99))}" stroke="${col}"/>`,
        `<rect x="${num(x)}" y="${num(y(s.p75))}" width="${box}" height="${num(Math.max(1, y(s.p25) - y(s.p75)))}" fill="${col}" fill-opacity="0.35" stroke="${col}"><title>${esc(`${c.name}, ${n} processes: p50 ${s.p50.toFixed(2)} ms, p99 ${s.p99.toFixed(2)} ms, max ${s.max.toFixed(1)} ms`)}</title></rect>`,
        `<line x1="${num(x)}" x2="${num(x + box)}" y1="${num(y(s.p50))}" y2="${num(y(s.p50))}" stroke="${col}" stroke-width="2"/>`,
        `<circle cx="${num(cx)}" cy="${num(y(s.max))}" r="2.5" fill="${col}"/>`,
      )
    })
  })
  contenders.forEach((c, i) => {
    const ly = top + plotH + 34 + i * 18
    parts.push(
      `<rect x="${left}" y="${ly - 9}" width="12" height="10" fill="${colour.get(c.name)}" fill-opacity="0.6"/>`,
      `<text x="${left + 18}" y="${ly}">${esc(c.name)}</text>`,
    )
  })
  parts.push('</svg>')
  return `${parts.join('\n')}\n`
}

/**
 * One SVG with a small panel per backend: cycles/s of all loops together against the
 * number of independent keys, floor and Baton (medians over runs).
 */
export function keysChart(rows: readonly Row[], backends: readonly string[]): string | undefined {
  const mine = rows.filter(
    (r) => r.scenario === 'keys' && r.metric.startsWith('cycles/s at ') && r.spread.runs > 0,
  )
  const shown = backends.filter((b) => mine.some((r) => r.backend === b))
  if (shown.length === 0) return undefined
  const keysOf = (r: Row) => Number(/at (\d+) keys/.exec(r.metric)?.[1])
  const counts = [...new Set(mine.map(keysOf))].sort((a, b) => a - b)
  const panelW = 230
  const panelH = 170
  const cols = Math.min(3, shown.length)
  const rowsN = Math.ceil(shown.length / cols)
  const width = Math.max(640, cols * (panelW + 70) + 20)
  const height = 40 + rowsN * (panelH + 60) + 20
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    '<text x="20" y="20" font-size="13" font-weight="bold">Independent keys in one process: cycles/s of all loops together</text>',
    `<text x="20" y="34" fill="#555">black: floor at its natural best; blue: Baton, one Locker</text>`,
  ]
  shown.forEach((backend, i) => {
    const ox = 60 + (i % cols) * (panelW + 70)
    const oy = 60 + Math.floor(i / cols) * (panelH + 60)
    const lines = ['floor', 'baton']
      .map((role) => ({
        role,
        points: counts.flatMap((n) => {
          const r = mine.find((m) => m.backend === backend && m.role === role && keysOf(m) === n)
          return r === undefined ? [] : [{ n, v: r.spread.median }]
        }),
      }))
      .filter((l) => l.points.length > 0)
    const vMax = Math.max(1, ...lines.flatMap((l) => l.points.map((p) => p.v))) * 1.1
    const x = (n: number) =>
      ox + (counts.length === 1 ? panelW / 2 : (counts.indexOf(n) / (counts.length - 1)) * panelW)
    const y = (v: number) => oy + panelH - (v / vMax) * panelH
    parts.push(
      `<text x="${ox}" y="${oy - 8}" font-weight="bold">${esc(backend)}</text>`,
      `<line x1="${ox}" x2="${ox}" y1="${oy}" y2="${oy + panelH}" stroke="#333"/>`,
      `<line x1="${ox}" x2="${ox + panelW}" y1="${oy + panelH}" y2="${oy + panelH}" stroke="#333"/>`,
    )
    for (const f of [0, 0.5, 1]) {
      const v = (vMax / 1.1) * f
      parts.push(
        `<line x1="${ox}" x2="${ox + panelW}" y1="${num(y(v))}" y2="${num(y(v))}" stroke="#eee"/>`,
        `<text x="${ox - 4}" y="${num(y(v) + 4)}" text-anchor="end">${esc(Math.round(v).toLocaleString('en-US'))}</text>`,
      )
    }
    for (const n of counts) {
      parts.push(`<text x="${num(x(n))}" y="${oy + panelH + 14}" text-anchor="middle">${n}</text>`)
    }
    parts.push(
      `<text x="${ox + panelW / 2}" y="${oy + panelH + 28}" text-anchor="middle" fill="#555">keys</text>`,
    )
    for (const l of lines) {
      const col = l.role === 'floor' ? FLOOR : (PALETTE[0] as string)
      parts.push(
        `<polyline fill="none" stroke="${col}" stroke-width="2" points="${l.points.map((p) => `${num(x(p.n))},${num(y(p.v))}`).join(' ')}"/>`,
        ...l.points.map(
          (p) =>
            `<circle cx="${num(x(p.n))}" cy="${num(y(p.v))}" r="3" fill="${col}"><title>${esc(`${backend} ${l.role}, ${p.n} keys: ${Math.round(p.v)} cycles/s`)}</title></circle>`,
        ),
      )
    }
  })
  parts.push('</svg>')
  return `${parts.join('\n')}\n`
}
