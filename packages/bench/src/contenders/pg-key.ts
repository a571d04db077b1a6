import { createHash } from 'node:crypto'

/** A signed 64-bit advisory-lock key from a string key (first 8 bytes of its SHA-256), as text for pg. */
export function advisoryKey(key: string): string {
  return createHash('sha256').update(key).digest().readBigInt64BE(0).toString()
}
