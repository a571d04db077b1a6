import { createHash } from 'node:crypto'
import type { Attributes } from '@opentelemetry/api'
import { ATTR_KEY, ATTR_KEY_SHA256 } from './semantics.js'

/**
 * Whether spans name the lock's key: `false` (default: keys may carry user data such as
 * an account id), `true` (the key as given, without namespace) or `'hash'` (the first 16
 * hex characters of its SHA-256, enough to tell keys apart and to compute from a known key).
 */
export type RecordKeys = false | true | 'hash'

/** Checks `recordKeys` once, at construction. */
export function checkRecordKeys(value: unknown): RecordKeys {
  if (value === undefined || value === false) return false
  if (value === true || value === 'hash') return value
  throw new TypeError(`options.recordKeys must be false, true or 'hash', got ${String(value)}`)
}

/** The key's first 16 hex characters of SHA-256, as `baton.lock.key_sha256` records it. */
export function keySha256(key: string): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 16)
}

/** Adds the key's attribute to `attributes` as `mode` asks. */
export function addKeyAttribute(attributes: Attributes, key: string, mode: RecordKeys): Attributes {
  if (mode === true) attributes[ATTR_KEY] = key
  else if (mode === 'hash') attributes[ATTR_KEY_SHA256] = keySha256(key)
  return attributes
}
