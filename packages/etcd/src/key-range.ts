/** An etcd key range: `[key, range_end)`. */
export interface KeyRange {
  readonly key: Buffer
  readonly range_end: Buffer
}

/** One past the last key with `prefix`: the range end etcd uses for a prefix. */
export function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix)
  for (let i = end.length - 1; i >= 0; i--) {
    if ((end[i] ?? 0) < 0xff) {
      end[i] = (end[i] ?? 0) + 1
      return end.subarray(0, i + 1)
    }
  }
  return Buffer.from([0])
}

/** The range of every key starting with `prefix`. */
export function prefixRange(prefix: string): { key: Buffer; range_end: Buffer } {
  const key = Buffer.from(prefix)
  return { key, range_end: prefixEnd(key) }
}

/** Entries of a per-name cache (`cached`): it is cleared when full. */
export const CACHE_SIZE = 1_024

/** `cache`'s value for `key`, made by `make` on a miss. */
export function cached<V>(cache: Map<string, V>, key: string, make: (key: string) => V): V {
  let value = cache.get(key)
  if (value === undefined) {
    if (cache.size >= CACHE_SIZE) cache.clear()
    value = make(key)
    cache.set(key, value)
  }
  return value
}
