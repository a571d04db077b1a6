import type { CheckerName, Violation } from './checkers/violation.js'
import type { BackendName } from './harness/deployment.js'

/**
 * Violations the suite found on real drivers that are limits of the backend's model, not bugs
 * to fix in the driver, each with its cause and a bound. A violation matches only when backend,
 * nemesis and checker match and it stays within `maxMs`; anything else still fails. They are
 * counted and shown in docs/guarantees.md like every other violation.
 */
export interface KnownLimit {
  backends: readonly BackendName[]
  nemesis: string
  checker: CheckerName
  maxMs: number
  cause: string
}

export const KNOWN_LIMITS: readonly KnownLimit[] = [
  {
    backends: ['postgres', 'mysql'],
    nemesis: 'cut-holder',
    checker: 'S1',
    maxMs: 50,
    cause:
      "A reset (RST) of the holder's connection ends its session on the server at once, which frees the lock for a waiter, while the holder only learns of it when its event loop handles the socket error; meanwhile its handle is still valid. Seen: overlaps of 3.5 ms (PostgreSQL) and 7.9 ms (MariaDB). Fencing keeps the store safe (the old holder's write, if any, carries the lower fence).",
  },
]

export function knownLimitOf(
  backend: string,
  nemesis: string,
  v: Violation,
): KnownLimit | undefined {
  return KNOWN_LIMITS.find(
    (l) =>
      (l.backends as readonly string[]).includes(backend) &&
      l.nemesis === nemesis &&
      l.checker === v.checker &&
      v.byMs !== undefined &&
      v.byMs <= l.maxMs,
  )
}
