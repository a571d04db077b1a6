/** Server settings that bound how long a silent client's session, and so its locks, outlives it. */
export interface SessionLiveness {
  /** The TTL these settings implement, in ms. */
  readonly ttlMs: number
  /** `set_config` pairs, applied with one statement. */
  readonly settings: ReadonlyArray<readonly [name: string, value: string]>
}

/** PostgreSQL 14 added `idle_session_timeout` and `client_connection_check_interval`. */
const PG14 = 140_000

/**
 * Maps a lock TTL onto the session, so that the server itself ends a silent holder's
 * session, and frees every lock on it, within `ttlMs`:
 * - `idle_session_timeout = ttlMs` (PG 14+): a holder that sends nothing for `ttlMs`
 *   (crashed, paused, partitioned, or not renewing) loses its session. Core heartbeats
 *   at a third of the TTL, so a live holder never hits it.
 * - `tcp_user_timeout = ttlMs` (PG 12+): unacknowledged data to a vanished client host
 *   ends the connection.
 * - `tcp_keepalives_idle/interval/count`: a vanished client host is detected within
 *   about `ttlMs` (whole seconds, at least 2 s in total) even before PG 14.
 * - `client_connection_check_interval` (PG 14+): a waiting backend notices that its
 *   client went away and stops waiting, instead of receiving a grant nobody will use.
 * TCP settings are ignored on Unix-domain sockets.
 */
export function sessionLiveness(ttlMs: number, serverVersion: number): SessionLiveness {
  const ttl = livenessTtlMs(ttlMs)
  // Linux takes at most 32767 s for TCP_KEEPIDLE and TCP_KEEPINTVL
  const ttlSeconds = Math.min(65_534, Math.max(2, Math.floor(ttl / 1000)))
  const idleSeconds = Math.max(1, Math.floor(ttlSeconds / 2))
  const count = Math.max(1, Math.min(3, ttlSeconds - idleSeconds))
  const intervalSeconds = Math.max(1, Math.floor((ttlSeconds - idleSeconds) / count))
  const settings: Array<readonly [string, string]> = [
    ['tcp_keepalives_idle', String(idleSeconds)],
    ['tcp_keepalives_interval', String(intervalSeconds)],
    ['tcp_keepalives_count', String(count)],
    ['tcp_user_timeout', String(ttl)],
    // lock_timeout bounds each wait; a role's statement_timeout must not cut it short
    ['statement_timeout', '0'],
  ]
  if (serverVersion >= PG14) {
    settings.push(['idle_session_timeout', String(ttl)])
    settings.push([
      'client_connection_check_interval',
      String(clamp(Math.floor(ttl / 3), 100, 1000)),
    ])
  }
  return Object.freeze({ ttlMs: ttl, settings: Object.freeze(settings) })
}

/** The TTL a session's settings implement for a requested `ttlMs`: whole ms, at least 1. */
export function livenessTtlMs(ttlMs: number): number {
  // the server's millisecond settings are 32-bit ints (about 24.8 days)
  return Math.min(MAX_SETTING_MS, Math.max(1, Math.ceil(ttlMs)))
}

const MAX_SETTING_MS = 2_147_483_647

/** One statement applying `liveness`, with literals only (all values are integers we built). */
export function livenessSql(liveness: SessionLiveness): string {
  const calls = liveness.settings.map(([name, value]) => `set_config('${name}', '${value}', false)`)
  return `SELECT ${calls.join(', ')}`
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value))
}
