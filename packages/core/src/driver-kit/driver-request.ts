import { randomBytes } from 'node:crypto'
import type { AcquireRequest } from '../driver.js'

/**
 * A raw `AcquireRequest` for driver tests, as core would send it: a fresh 128-bit owner,
 * `ttlMs` 5 000, `waitMs` 0 (one attempt), mode `exclusive` and a signal nobody aborts, unless overridden.
 */
export function driverRequest(
  key: string,
  overrides: Partial<AcquireRequest> = {},
): AcquireRequest {
  return {
    key,
    owner: randomBytes(16).toString('hex'),
    ttlMs: 5_000,
    waitMs: 0,
    mode: 'exclusive',
    signal: new AbortController().signal,
    ...overrides,
  }
}

/** A key unique to this test run: `label:<8 hex digits>`. */
export function uniqueKey(label: string): string {
  return `${label}:${randomBytes(4).toString('hex')}`
}
