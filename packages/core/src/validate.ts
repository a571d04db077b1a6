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
  if (!isWellFormed(key)) {
    throw new TypeError(
      `lock key must be well-formed Unicode, got a lone surrogate in ${describe(key)}`,
    )
  }
  // A UTF-16 code unit is at most 3 UTF-8 bytes (a surrogate pair 4 for 2 units).
  if (key.length > 0 && key.length * 3 <= MAX_KEY_BYTES) return
  const bytes = Buffer.byteLength(key, 'utf8')
  if (bytes < 1 || bytes > MAX_KEY_BYTES) {
    throw new RangeError(
      `lock key must be 1 to ${MAX_KEY_BYTES} UTF-8 bytes, got ${bytes} bytes (${describe(key)})`,
    )
  }
}

/** Throws a RangeError unless the namespaced key fits the driver's `maxKeyBytes`. */
export function checkNamespacedKey(fullKey: string, maxKeyBytes: number, driver: string): void {
  if (fullKey.length * 3 <= maxKeyBytes) return
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

/** Largest semaphore limit a Locker accepts. */
export const MAX_SEMAPHORE_LIMIT = 10_000

/** Longest advertised value (`ElectionOptions.value`), in UTF-8 bytes. */
export const MAX_VALUE_BYTES = 1024

/** Throws unless `limit` is an integer from 1 to 10 000. */
export function checkLimit(limit: unknown): asserts limit is number {
  if (typeof limit !== 'number') {
    throw new TypeError(`semaphore limit must be a number, got ${describe(limit)}`)
  }
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_SEMAPHORE_LIMIT) {
    throw new RangeError(
      `semaphore limit must be an integer from 1 to ${MAX_SEMAPHORE_LIMIT}, got ${limit}`,
    )
  }
}

/** Throws unless `mode` is 'exclusive' or 'shared'. */
export function checkMode(mode: unknown): asserts mode is 'exclusive' | 'shared' {
  if (mode !== 'exclusive' && mode !== 'shared') {
    throw new TypeError(`lock mode must be 'exclusive' or 'shared', got ${describe(mode)}`)
  }
}

/** Throws unless `value` is a well-formed string of at most 1024 UTF-8 bytes. */
export function checkValue(value: unknown): asserts value is string {
  if (typeof value !== 'string') {
    throw new TypeError(`election value must be a string, got ${describe(value)}`)
  }
  if (!isWellFormed(value)) {
    throw new TypeError('election value must be well-formed Unicode, got a lone surrogate')
  }
  const bytes = Buffer.byteLength(value, 'utf8')
  if (bytes > MAX_VALUE_BYTES) {
    throw new RangeError(
      `election value must be at most ${MAX_VALUE_BYTES} UTF-8 bytes, got ${bytes}`,
    )
  }
}

/** Largest key set `acquireAll` accepts. */
export const MAX_KEYS_PER_SET = 1000

/** Throws unless `keys` is a non-empty array of distinct valid keys (at most 1000). */
export function checkKeyList(keys: unknown): asserts keys is readonly string[] {
  if (!Array.isArray(keys)) throw new TypeError(`keys must be an array, got ${describe(keys)}`)
  if (keys.length < 1 || keys.length > MAX_KEYS_PER_SET) {
    throw new RangeError(`keys must hold 1 to ${MAX_KEYS_PER_SET} keys, got ${keys.length}`)
  }
  const seen = new Set<string>()
  for (const key of keys) {
    checkKey(key)
    if (seen.has(key)) throw new RangeError(`keys must be distinct; ${describe(key)} is repeated`)
    seen.add(key)
  }
}

/** Throws unless `namespace` is a string (possibly empty). */
export function checkNamespace(namespace: unknown): asserts namespace is string {
  if (typeof namespace !== 'string') {
    throw new TypeError(`namespace must be a string, got ${describe(namespace)}`)
  }
}

/** `String.prototype.isWellFormed` (Node 20+), else the lone-surrogate test it replaces. */
function isWellFormed(text: string): boolean {
  const native = (text as { isWellFormed?: () => boolean }).isWellFormed
  return native === undefined ? !LONE_SURROGATE.test(text) : native.call(text)
}

function describe(value: unknown): string {
  if (typeof value === 'string') {
    return value.length > 40 ? `"${value.slice(0, 40)}..."` : JSON.stringify(value)
  }
  if (typeof value === 'bigint') return `${value}n`
  if (value === null || typeof value !== 'object') return String(value)
  return Array.isArray(value) ? 'an array' : 'an object'
}
