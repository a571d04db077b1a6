import type { MetricAdvice } from '@opentelemetry/api'

/** Name and version the tracer and the meter report as their instrumentation scope. */
export const SCOPE_NAME = '@baton-lock/otel'
export const SCOPE_VERSION = '0.1.0'

/** Span names. */
export const SPAN_ACQUIRE = 'baton.lock.acquire'
export const SPAN_HOLD = 'baton.lock.hold'
/** One `acquireAll` / `withAll`: the per-key acquire spans are its children. */
export const SPAN_ACQUIRE_ALL = 'baton.lock.acquire_all'

/** Attribute names, in OpenTelemetry semantic-convention style (`namespace.name`, snake_case). */
export const ATTR_BACKEND = 'baton.lock.backend'
/** The user's key, without namespace; recorded only with `recordKeys: true` (keys may carry user data). */
export const ATTR_KEY = 'baton.lock.key'
/** First 16 hex characters (64 bits) of the key's SHA-256; recorded only with `recordKeys: 'hash'`. */
export const ATTR_KEY_SHA256 = 'baton.lock.key_sha256'
/** `acquire`, `try_acquire` (a Locker's or a Semaphore's), `campaign` (an election) or `acquire_all`. */
export const ATTR_OPERATION = 'baton.lock.operation'
/** `exclusive`, `shared` or `semaphore` (a permit); an election's leadership is `exclusive`. */
export const ATTR_MODE = 'baton.lock.mode'
/** A semaphore's `limit`, on its acquire and hold spans. */
export const ATTR_SEMAPHORE_LIMIT = 'baton.semaphore.limit'
/** How many keys an `acquireAll` asked for. */
export const ATTR_KEY_COUNT = 'baton.lock.key_count'
export const ATTR_OUTCOME = 'baton.lock.outcome'
export const ATTR_CONTENDED = 'baton.lock.contended'
/** The fencing token as a decimal string: it is a bigint, wider than an attribute number. */
export const ATTR_FENCE = 'baton.lock.fence'
export const ATTR_OWNER = 'baton.lock.owner'
export const ATTR_WAIT_LIMIT_MS = 'baton.lock.wait_limit_ms'
export const ATTR_STATE = 'baton.lock.state'
export const ATTR_LOST_REASON = 'baton.lock.lost.reason'
export const ATTR_RENEWALS = 'baton.lock.renewals'
export const ATTR_HELD_MS = 'baton.lock.held_ms'
/** The general OpenTelemetry attribute for a failure's class: here the Baton error code. */
export const ATTR_ERROR_TYPE = 'error.type'

/** Metric names; durations are in seconds, as OpenTelemetry's conventions ask. */
export const METRIC_ACQUIRE_DURATION = 'baton.lock.acquire.duration'
export const METRIC_HOLD_DURATION = 'baton.lock.hold.duration'
export const METRIC_HELD = 'baton.lock.held'
export const METRIC_CONTENTIONS = 'baton.lock.contentions'
export const METRIC_LOSSES = 'baton.lock.losses'
export const METRIC_RENEWALS = 'baton.lock.renewals'
export const METRIC_SUSPENSIONS = 'baton.lock.suspensions'

/** What `baton.lock.operation` names. */
export type AcquireOperation = 'acquire' | 'try_acquire' | 'campaign' | 'acquire_all'

/**
 * How an acquire ended: `acquired`; `busy` (`tryAcquire` found the key held and returned
 * null); `timeout` (`LOCK_TIMEOUT`); `aborted` (the caller's signal, `LOCK_ABORTED`);
 * `error` (anything else: backend failure, closed Locker, bad argument).
 */
export type AcquireOutcome = 'acquired' | 'busy' | 'timeout' | 'aborted' | 'error'

/**
 * Acquire waits, in seconds: an uncontended in-process grant takes microseconds, a network
 * round trip a millisecond or so, and a contended wait lasts up to the holder's work or the
 * caller's `waitMs` (default 30 s). 100 µs to 10 min.
 */
export const WAIT_BUCKETS_S: MetricAdvice = {
  explicitBucketBoundaries: [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
    30, 60, 120, 300, 600,
  ],
}

/** Hold times, in seconds: a critical section of a millisecond up to a leader lease held for hours. */
export const HOLD_BUCKETS_S: MetricAdvice = {
  explicitBucketBoundaries: [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 1800, 3600,
    14_400,
  ],
}
