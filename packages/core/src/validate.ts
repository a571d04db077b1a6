/** Longest user key, in UTF-8 bytes (H3). */
export const MAX_KEY_BYTES = 1024
/** A high surrogate not followed by a low one, or a low one not preceded by a high one. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

/** Longest lease a Locker accepts: 24 hours. */
export const MAX_TTL_MS = 86_400_000

/** Throws a TypeError/RangeError naming the value unless `key` is a string of 1 to 1024 UTF-8 bytes. */
export function checkKey(key: unknown): asserts key is string {
  if (typeof key !== 'string') {
    throw new TypeError(`lock key must be a string, got ${describe(key)}`)
  }
  // A lone surrogate has no UTF-8 form: it would become U+FFFD and collide with that key.
  if (LONE_SURROGATE.test(key)) {
    throw new TypeError(
      `lock key must be well-formed Unicode, got a lone surrogate in ${describe(key)}`,
    )
  }
  const bytes = Buffer.byteLength(key, 'utf8')
  if (bytes < 1 || bytes > MAX_KEY_BYTES) {
    throw new RangeError(
      `lock key must be 1 to ${MAX_KEY_BYTES} UTF-8 bytes, got ${bytes} bytes (${describe(key)})`,
    )
  }
}

/** Throws a RangeError unless the namespaced key fits the driver's `maxKeyBytes`. */
export function checkNamespacedKey(fullKey: string, maxKeyBytes: number, driver: string): void {
  const bytes = Buffer.byteLength(fullKey, 'utf8')
  if (bytes > maxKeyBytes) {
    throw new RangeError(
      `namespaced lock key ${describe(fullKey)} is ${bytes} UTF-8 bytes; the ${driver} driver accepts at most ${maxKeyBytes}`,
    )
  }
}

/** Throws unless `ttlMs` is a finite integer from max(1, resolutionMs) to 24 h. */
export function checkTtl(
  ttlMs: unknown,
  resolutionMs: number,
  name = 'ttlMs',
): asserts ttlMs is number {
  if (typeof ttlMs !== 'number')
    throw new TypeError(`${name} must be a number, got ${describe(ttlMs)}`)
  const minMs = Math.max(1, resolutionMs)
  if (!Number.isInteger(ttlMs) || ttlMs < minMs || ttlMs > MAX_TTL_MS) {
    throw new RangeError(
      `${name} must be an integer from ${minMs} to ${MAX_TTL_MS} ms, got ${ttlMs}`,
    )
  }
}

/** Throws unless `waitMs` is a finite integer >= 0 or `Infinity`. */
export function checkWait(waitMs: unknown, name = 'waitMs'): asserts waitMs is number {
  if (typeof waitMs !== 'number')
    throw new TypeError(`${name} must be a number, got ${describe(waitMs)}`)
  if (waitMs === Number.POSITIVE_INFINITY) return
  if (!Number.isInteger(waitMs) || waitMs < 0) {
    throw new RangeError(`${name} must be an integer >= 0 or Infinity, got ${waitMs}`)
  }
}

/** Throws unless `namespace` is a string (possibly empty). */
export function checkNamespace(namespace: unknown): asserts namespace is string {
  if (typeof namespace !== 'string') {
    throw new TypeError(`namespace must be a string, got ${describe(namespace)}`)
  }
}

function describe(value: unknown): string {
  if (typeof value === 'string') {
    return value.length > 40 ? `"${value.slice(0, 40)}..."` : JSON.stringify(value)
  }
  if (typeof value === 'bigint') return `${value}n`
  if (value === null || typeof value !== 'object') return String(value)
  return Array.isArray(value) ? 'an array' : 'an object'
}
