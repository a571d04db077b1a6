import type { LockEvent, Locker, LockHandle } from '@baton-lock/core'
import {
  type Context,
  context,
  diag,
  type MeterProvider,
  metrics,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  type TracerProvider,
  trace,
} from '@opentelemetry/api'
import { HoldSpans } from './hold-spans.js'
import { addKeyAttribute, checkRecordKeys, type RecordKeys } from './key-attributes.js'
import { errorType, lostReason, outcomeOf } from './lock-errors.js'
import { LockMetrics } from './lock-metrics.js'
import { isNoopMeter, isNoopTracing } from './noop-providers.js'
import {
  type AcquireOutcome,
  ATTR_BACKEND,
  ATTR_CONTENDED,
  ATTR_ERROR_TYPE,
  ATTR_FENCE,
  ATTR_OPERATION,
  ATTR_OUTCOME,
  ATTR_WAIT_LIMIT_MS,
  SCOPE_NAME,
  SCOPE_VERSION,
  SPAN_ACQUIRE,
} from './semantics.js'

/** Options of a `LockTelemetry`, read once at construction. */
export interface LockTelemetryOptions {
  /** Where spans go. Default: the global provider (`trace.getTracerProvider()`): register the SDK first (see `active`). */
  readonly tracerProvider?: TracerProvider
  /** Where metrics go. Default: the global provider at construction: register the SDK first. */
  readonly meterProvider?: MeterProvider
  /** Whether spans name the key: false (default), true, or 'hash' (SHA-256 prefix). Metrics never do. */
  readonly recordKeys?: RecordKeys
  /** `baton.lock.backend` of every span and metric point. Default: the instrumented Locker's `driver.name`. */
  readonly backend?: string
  /** Another listener to call with every event, after this one (core takes a single `onEvent`). */
  readonly onEvent?: (event: LockEvent) => void
}

/** One acquire in flight whose span records; found again from the events through the active context. */
interface Attempt {
  /** The caller's context, parent of the acquire span and of the hold span. */
  readonly parent: Context
  /** True when the context manager carried the acquire span into core, so events find it. */
  tracked: boolean
  contended: boolean
}

/** Lockers already instrumented: a second wrapper would count everything twice. */
const instrumented = new WeakSet<Locker>()

/**
 * Spans and metrics for one Locker. Core's events (`onEvent`) give contention, holds,
 * renewals and losses; wrapping the Locker's `acquire` and `tryAcquire` gives what events
 * lack: the caller's context, and acquires that end in abort or error. Wire both:
 *
 *     const telemetry = new LockTelemetry({ recordKeys: 'hash' })
 *     const locker = telemetry.instrument(new Locker(driver, { onEvent: telemetry.onEvent }))
 */
export class LockTelemetry {
  /**
   * Pass to the Locker's `onEvent` option. Never throws (core would ignore it anyway).
   * When inert (see `active`) it is only the chained `options.onEvent`, or undefined, so
   * that core skips its event path.
   */
  readonly onEvent: ((event: LockEvent) => void) | undefined
  /**
   * False when, at construction, both providers were the API's no-op ones (no SDK
   * registered, none given): then nothing is wrapped or listened to, and the instrumentation
   * costs nothing. An SDK registered later is not picked up.
   */
  readonly active: boolean
  readonly #tracer: Tracer
  readonly #metrics: LockMetrics
  readonly #holds: HoldSpans
  readonly #recordKeys: RecordKeys
  readonly #fixedBackend: string | undefined
  readonly #chained: ((event: LockEvent) => void) | undefined
  readonly #attempts = new WeakMap<Span, Attempt>()
  #backend: string
  #locker: Locker | undefined
  #eventsSeen = 0
  #warned = false

  constructor(options: LockTelemetryOptions = {}) {
    if (options.onEvent !== undefined && typeof options.onEvent !== 'function') {
      throw new TypeError('options.onEvent must be a function')
    }
    if (
      options.backend !== undefined &&
      (typeof options.backend !== 'string' || options.backend === '')
    ) {
      throw new TypeError(
        `options.backend must be a non-empty string, got ${String(options.backend)}`,
      )
    }
    this.#recordKeys = checkRecordKeys(options.recordKeys)
    this.#fixedBackend = options.backend
    this.#backend = options.backend ?? 'unknown'
    this.#chained = options.onEvent
    const tracerProvider = options.tracerProvider ?? trace.getTracerProvider()
    this.#tracer = tracerProvider.getTracer(SCOPE_NAME, SCOPE_VERSION)
    const meterProvider = options.meterProvider ?? metrics.getMeterProvider()
    const meter = meterProvider.getMeter(SCOPE_NAME, SCOPE_VERSION)
    this.#metrics = new LockMetrics(meter, this.#backend)
    this.#holds = new HoldSpans(this.#tracer, this.#recordKeys)
    this.active = !(isNoopTracing(tracerProvider) && isNoopMeter(meter))
    this.onEvent = this.active ? (event) => this.#listen(event) : this.#chained
  }

  #listen(event: LockEvent): void {
    try {
      this.#record(event)
    } catch (err) {
      diag.error('@baton-lock/otel: recording a lock event failed', err)
    }
    this.#chained?.(event)
  }

  /** Holds whose span is still open (for tests and leak checks). */
  get openHoldSpans(): number {
    return this.#holds.openCount
  }

  /**
   * Wraps `locker.acquire` and `locker.tryAcquire` on the instance (so `withLock`, which
   * calls `acquire`, is covered) and returns the same Locker. One Locker per LockTelemetry:
   * events do not say which Locker sent them.
   */
  instrument<L extends Locker>(locker: L): L {
    if (this.#locker !== undefined) {
      throw new TypeError('this LockTelemetry already instruments a Locker: make one per Locker')
    }
    if (instrumented.has(locker)) throw new TypeError('this Locker is already instrumented')
    instrumented.add(locker)
    this.#locker = locker
    if (!this.active) return locker
    if (this.#fixedBackend === undefined) {
      this.#backend = locker.driver.name
      this.#metrics.setBackend(this.#backend)
    }
    const acquire = locker.acquire
    const tryAcquire = locker.tryAcquire
    locker.acquire = (key, options) =>
      this.#observe('acquire', key, options?.waitMs, () => acquire.call(locker, key, options))
    locker.tryAcquire = (key, options) =>
      this.#observe('try_acquire', key, 0, () => tryAcquire.call(locker, key, options))
    return locker
  }

  #observe<T extends LockHandle | null>(
    operation: 'acquire' | 'try_acquire',
    key: string,
    waitLimitMs: number | undefined,
    call: () => Promise<T>,
  ): Promise<T> {
    const startedAtMs = performance.now()
    const parent = context.active()
    const span = this.#tracer.startSpan(SPAN_ACQUIRE, { kind: SpanKind.INTERNAL }, parent)
    let pending: Promise<T>
    if (span.isRecording()) {
      const attributes = { [ATTR_BACKEND]: this.#backend, [ATTR_OPERATION]: operation }
      span.setAttributes(addKeyAttribute(attributes, key, this.#recordKeys))
      if (waitLimitMs !== undefined) span.setAttribute(ATTR_WAIT_LIMIT_MS, waitLimitMs)
      const attempt: Attempt = { parent, tracked: false, contended: false }
      this.#attempts.set(span, attempt)
      const inner = trace.setSpan(parent, span)
      pending = context.with(inner, () => {
        attempt.tracked = context.active() === inner
        return call()
      })
    } else {
      pending = call()
    }
    return pending.then(
      (handle) => {
        this.#acquireEnded(span, handle === null ? 'busy' : 'acquired', startedAtMs, handle)
        return handle
      },
      (err: unknown) => {
        this.#acquireEnded(span, outcomeOf(err), startedAtMs, err)
        throw err
      },
    )
  }

  #acquireEnded(span: Span, outcome: AcquireOutcome, startedAtMs: number, result: unknown): void {
    this.#metrics.acquireEnded(outcome, performance.now() - startedAtMs)
    if (outcome === 'acquired' && this.#eventsSeen === 0) this.#warnUnwired()
    if (!span.isRecording()) return
    span.setAttribute(ATTR_OUTCOME, outcome)
    const attempt = this.#attempts.get(span)
    if (attempt?.tracked) span.setAttribute(ATTR_CONTENDED, attempt.contended || outcome === 'busy')
    if (outcome === 'acquired') {
      span.setAttribute(ATTR_FENCE, (result as LockHandle).fence.toString())
    } else if (outcome !== 'busy') {
      span.setAttribute(ATTR_ERROR_TYPE, errorType(result))
    }
    if (outcome === 'error') {
      span.setStatus({ code: SpanStatusCode.ERROR, message: errorType(result) })
    }
    span.end()
  }

  #record(event: LockEvent): void {
    this.#eventsSeen++
    switch (event.type) {
      case 'contended': {
        this.#metrics.contended()
        const attempt = this.#currentAttempt()
        if (attempt !== undefined) attempt.attempt.contended = true
        return
      }
      case 'acquired': {
        this.#metrics.granted()
        const current = this.#currentAttempt()
        const parent = current?.attempt.parent ?? context.active()
        const link = current === undefined ? undefined : { context: current.span.spanContext() }
        this.#holds.start(event, this.#backend, parent, link)
        return
      }
      case 'renewed':
        this.#metrics.renewed()
        this.#holds.renewed(event)
        return
      case 'suspended':
        this.#metrics.suspended()
        this.#holds.suspended(event)
        return
      case 'lost': {
        const reason = lostReason(event.error)
        this.#metrics.lost(event.heldMs, reason)
        this.#holds.lost(event, reason)
        return
      }
      case 'released':
        this.#metrics.released(event.heldMs)
        this.#holds.released(event)
        return
      case 'timeout':
        // The wrapper records the outcome; the wait was contended (it waited).
        return
    }
  }

  /** The acquire whose span core's event runs under, when the context manager carried it. */
  #currentAttempt(): { span: Span; attempt: Attempt } | undefined {
    const span = trace.getSpan(context.active())
    if (span === undefined) return undefined
    const attempt = this.#attempts.get(span)
    return attempt === undefined ? undefined : { span, attempt }
  }

  #warnUnwired(): void {
    if (this.#warned) return
    this.#warned = true
    diag.warn(
      "@baton-lock/otel: a lock was acquired but no event reached LockTelemetry.onEvent: pass it as the Locker's onEvent option, or hold spans and hold metrics stay empty",
    )
  }
}
