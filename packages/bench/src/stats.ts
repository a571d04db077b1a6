/** Value at quantile `q` (0..1) of `values`, by the nearest-rank method; NaN when empty. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)))
  return sorted[rank - 1] as number
}

/** Median, minimum and maximum of the per-run values of one metric. */
export interface Spread {
  readonly median: number
  readonly min: number
  readonly max: number
  readonly runs: number
}

/** Summarises the per-run values of a metric; NaN runs (a failed run) are left out. */
export function spread(values: readonly number[]): Spread {
  const ok = values.filter((v) => Number.isFinite(v))
  if (ok.length === 0) return { median: Number.NaN, min: Number.NaN, max: Number.NaN, runs: 0 }
  return { median: quantile(ok, 0.5), min: Math.min(...ok), max: Math.max(...ok), runs: ok.length }
}

/** Arithmetic mean; NaN when empty. */
export function mean(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN
  return values.reduce((sum, v) => sum + v, 0) / values.length
}
