/** MySQL and MariaDB cap `wait_timeout` at 31 536 000 s (365 days) on Linux. */
const MAX_WAIT_TIMEOUT_S = 31_536_000

/**
 * The session `wait_timeout` that implements a lock TTL: whole seconds, rounded DOWN so
 * that the server closes a silent holder's session (and frees every lock on it) no later
 * than `ttlMs` after its last statement, and at least 1 s (the server's minimum; hence
 * `ttlResolutionMs` 1000). `wait_timeout` counts from the end of the session's last
 * statement, which is after the driver took `sentAtMs`, so core's validity always ends
 * first. It does not run while a statement runs (a blocking wait).
 */
export function waitTimeoutSeconds(ttlMs: number): number {
  return Math.min(MAX_WAIT_TIMEOUT_S, Math.max(1, Math.floor(ttlMs / 1000)))
}

/** The TTL a session grants for a requested `ttlMs`: its `wait_timeout` in ms. */
export function sessionTtlMs(ttlMs: number): number {
  return waitTimeoutSeconds(ttlMs) * 1000
}
