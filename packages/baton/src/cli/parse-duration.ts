import { UsageError } from './usage-error.js'

const UNITS_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }

/**
 * Parses a duration flag: `500ms`, `10s`, `1.5s`, `2m`, `1h`, a plain integer of
 * milliseconds, or `inf` / `forever` (Infinity, only where `allowInfinity`).
 */
export function parseDuration(flag: string, text: string, allowInfinity = false): number {
  const trimmed = text.trim().toLowerCase()
  if (allowInfinity && (trimmed === 'inf' || trimmed === 'infinity' || trimmed === 'forever')) {
    return Number.POSITIVE_INFINITY
  }
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(trimmed)
  const value = match === null ? Number.NaN : Number(match[1]) * (UNITS_MS[match[2] ?? 'ms'] ?? 1)
  if (!Number.isFinite(value) || !Number.isSafeInteger(Math.round(value))) {
    const also = allowInfinity ? ', or "forever"' : ''
    throw new UsageError(
      `invalid duration for --${flag}: "${text}" (use e.g. 500ms, 10s, 2m or plain milliseconds${also})`,
    )
  }
  return Math.round(value)
}
