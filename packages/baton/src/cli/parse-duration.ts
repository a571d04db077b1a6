import { UsageError } from './usage-error.js'

const UNITS_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }

/** Longest lease and longest timer a flag takes: 24 h (core's Locker limit for ttlMs). */
export const MAX_DURATION_MS = 86_400_000

/** Where a duration flag's value must lie, in milliseconds. */
export interface DurationRange {
  readonly minMs?: number
  readonly maxMs?: number
  /** `inf` / `infinity` / `forever` mean Infinity (past `maxMs`). */
  readonly allowInfinity?: boolean
}

/**
 * Parses a duration flag: `500ms`, `10s`, `1.5s`, `2m`, `1h`, a plain integer of
 * milliseconds, or `inf` / `forever` (Infinity, only where `allowInfinity`). Out of range
 * values fail naming the flag and the limit in the flag's units (`--ttl must be at most 24h`).
 */
export function parseDuration(flag: string, text: string, range: DurationRange = {}): number {
  const trimmed = text.trim().toLowerCase()
  if (
    range.allowInfinity === true &&
    (trimmed === 'inf' || trimmed === 'infinity' || trimmed === 'forever')
  ) {
    return Number.POSITIVE_INFINITY
  }
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(trimmed)
  const value = match === null ? Number.NaN : Number(match[1]) * (UNITS_MS[match[2] ?? 'ms'] ?? 1)
  if (!Number.isFinite(value) || !Number.isSafeInteger(Math.round(value))) {
    const also = range.allowInfinity === true ? ', or "forever"' : ''
    const negative = trimmed.startsWith('-') ? 'a duration cannot be negative; ' : ''
    throw new UsageError(
      `invalid duration for --${flag}: "${text}" (${negative}use e.g. 500ms, 10s, 2m or plain milliseconds${also})`,
    )
  }
  const ms = Math.round(value)
  const maxMs = range.maxMs ?? MAX_DURATION_MS
  if (ms > maxMs) {
    const also = range.allowInfinity === true ? ' (or "forever")' : ''
    throw new UsageError(`--${flag} must be at most ${formatDuration(maxMs)}${also}, got "${text}"`)
  }
  if (range.minMs !== undefined && ms < range.minMs) {
    throw new UsageError(`--${flag} must be at least ${formatDuration(range.minMs)}, got "${text}"`)
  }
  return ms
}

/** Milliseconds in the largest unit that divides them: 86400000 -> `24h`, 1500 -> `1500ms`. */
export function formatDuration(ms: number): string {
  for (const [unit, size] of [
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1_000],
  ] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`
  }
  return `${ms}ms`
}
