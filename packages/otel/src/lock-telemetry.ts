import type { LockEvent, Locker, LockHandle } from '@baton-lock/core'
import {
  type Attributes,
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
  ATTR_KEY_COUNT,
  ATTR_MODE,
  ATTR_OPERATION,
  ATTR_OUTCOME,
  ATTR_SEMAPHORE_LIMIT,
  ATTR_WAIT_LIMIT_MS,
  SCOPE_NAME,
  SCOPE_VERSION,
  SPAN_ACQUIRE,
  SPAN_ACQUIRE_ALL,
} from './semantics.js'
import { type AcquireCall, wrapLocker } from './wrap-locker.js'

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
  readonly call: AcquireCall
  /** True when the context manager carried the acquire span into core, so events find it. */
  tracked: boolean
  contended: boolean
  /** `acquire_all` only: whether the key being taken now was contended. */
  keyContended: boolean
}

/** The events that end one key of an `acquireAll`. */
type KeyEnd = Extract<LockEvent, { type: 'acquired' | 'timeout' }>

/** Lockers already instrumented: a second wrapper would count everything twice. */
const instrumented = new WeakSet<Locker>()

/**
 * Spans and metrics for one Locker. Core's events (`onEvent`) give contention, holds,
 * renewals and losses; wrapping the Locker's acquire calls (see `instrument`) gives what
 * events lack: the caller's context, and acquires that end in abort or error. Wire both:
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
   * Wraps, on the instance, `locker.acquire`, `tryAcquire` and `acquireAll`, and the
   * Semaphores and Elections that `semaphore()` and `election()` make from then on (so
   * `withLock`, `withAll`, `elect`, a Semaphore's `withLock` and an Election's `lead` are
   * covered), and returns the same Locker. One Locker per LockTelemetry: events do not say
   * which Locker sent them.
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
    wrapLocker(locker, (call, take) => this.#observe(call, take))
    return locker
  }

  #observe<T>(call: AcquireCall, take: () => Promise<T>): Promise<T> {
    const startedAtMs = performance.now()
    const parent = context.active()
    const name = call.operation === 'acquire_all' ? SPAN_ACQUIRE_ALL : SPAN_ACQUIRE
    const span = this.#tracer.startSpan(name, { kind: SpanKind.INTERNAL }, parent)
    let pending: Promise<T>
    if (span.isRecording()) {
      span.setAttributes(this.#callAttributes(call))
      const attempt: Attempt = {
        parent,
        call,
        tracked: false,
        contended: false,
        keyContended: false,
      }
      this.#attempts.set(span, attempt)
      const inner = trace.setSpan(parent, span)
      pending = context.with(inner, () => {
        attempt.tracked = context.active() === inner
        return take()
      })
    } else {
      pending = take()
    }
    return pending.then(
      (result) => {
        this.#acquireEnded(span, call, result === null ? 'busy' : 'acquired', startedAtMs, result)
        return result
      },
      (err: unknown) => {
        this.#acquireEnded(span, call, outcomeOf(err), startedAtMs, err)
        throw err
      },
    )
  }

  #callAttributes(call: AcquireCall): Attributes {
    const attributes: Attributes = {
      [ATTR_BACKEND]: this.#backend,
      [ATTR_OPERATION]: call.operation,
    }
    if (call.mode !== undefined) attributes[ATTR_MODE] = call.mode
    if (call.limit !== undefined) attributes[ATTR_SEMAPHORE_LIMIT] = call.limit
    if (call.keyCount !== undefined) attributes[ATTR_KEY_COUNT] = call.keyCount
    // Only a valid wait: a bad one is the caller's TypeError, recorded as error.type.
    const waitLimitMs = call.waitLimitMs
    if (typeof waitLimitMs === 'number' && waitLimitMs >= 0 && Number.isFinite(waitLimitMs)) {
      attributes[ATTR_WAIT_LIMIT_MS] = waitLimitMs
    }
    return call.key === undefined
      ? attributes
      : addKeyAttribute(attributes, call.key, this.#recordKeys)
  }

  #acquireEnded(
    span: Span,
    call: AcquireCall,
    outcome: AcquireOutcome,
    startedAtMs: number,
    result: unknown,
  ): void {
    this.#metrics.acquireEnded(outcome, call.mode, performance.now() - startedAtMs)
    if (outcome === 'acquired' && this.#eventsSeen === 0) this.#warnUnwired()
    const handle =
      outcome === 'acquired' && call.key !== undefined ? (result as LockHandle) : undefined
    // The hold span began at the `acquired` event, which has no limit.
    if (handle !== undefined && call.limit !== undefined) {
      this.#holds.annotate(handle.key, handle.fence, { [ATTR_SEMAPHORE_LIMIT]: call.limit })
    }
    if (!span.isRecording()) return
    span.setAttribute(ATTR_OUTCOME, outcome)
    const attempt = this.#attempts.get(span)
    if (attempt?.tracked) span.setAttribute(ATTR_CONTENDED, attempt.contended || outcome === 'busy')
    if (handle !== undefined) {
      span.setAttribute(ATTR_FENCE, handle.fence.toString())
    } else if (outcome !== 'busy' && outcome !== 'acquired') {
      span.setAttribute(ATTR_ERROR_TYPE, errorType(result))
    }
    if (outcome === 'error') {
      span.setStatus({ code: SpanStatusCode.ERROR, message: errorType(result) })
    }
    span.end()
  }

  /**
   * One key of an `acquireAll`: core takes it without passing the wrapped `acquire`, so
   * its span is made from the event that ends it (`acquired` or `timeout`), backdated by
   * the event's wait, as a child of the set's span.
   */
  #keySpan(set: Span, attempt: Attempt, event: KeyEnd): Span {
    const startTime = performance.now() - event.waitedMs
    const parent = trace.setSpan(attempt.parent, set)
    const span = this.#tracer.startSpan(
      SPAN_ACQUIRE,
      { kind: SpanKind.INTERNAL, startTime },
      parent,
    )
    const attributes: Attributes = {
      [ATTR_BACKEND]: this.#backend,
      [ATTR_OPERATION]: 'acquire',
      [ATTR_MODE]: event.mode,
      [ATTR_CONTENDED]: attempt.keyContended,
    }
    attempt.keyContended = false
    if (event.type === 'acquired') {
      attributes[ATTR_OUTCOME] = 'acquired'
      attributes[ATTR_FENCE] = event.fence.toString()
    } else {
      attributes[ATTR_OUTCOME] = 'timeout'
      attributes[ATTR_ERROR_TYPE] = 'LOCK_TIMEOUT'
    }
    span.setAttributes(addKeyAttribute(attributes, event.key, this.#recordKeys))
    span.end()
    return span
  }

  #record(event: LockEvent): void {
    this.#eventsSeen++
    switch (event.type) {
      case 'contended': {
        this.#metrics.contended(event.mode)
        const attempt = this.#currentAttempt()?.attempt
        if (attempt !== undefined) {
          attempt.contended = true
          attempt.keyContended = true
        }
        return
      }
      case 'acquired': {
        this.#metrics.granted(event.mode)
        const current = this.#currentAttempt()
        const parent = current?.attempt.parent ?? context.active()
        let acquire = current?.span
        if (current !== undefined && current.attempt.call.operation === 'acquire_all') {
          acquire = this.#keySpan(current.span, current.attempt, event)
        }
        const link = acquire === undefined ? undefined : { context: acquire.spanContext() }
        this.#holds.start(event, this.#backend, parent, link)
        return
      }
      case 'renewed':
        this.#metrics.renewed(event.mode)
        this.#holds.renewed(event)
        return
      case 'suspended':
        this.#metrics.suspended(event.mode)
        this.#holds.suspended(event)
        return
      case 'lost': {
        const reason = lostReason(event.error)
        this.#metrics.lost(event.mode, event.heldMs, reason)
        this.#holds.lost(event, reason)
        return
      }
      case 'released':
        this.#metrics.released(event.mode, event.heldMs)
        this.#holds.released(event)
        return
      case 'timeout': {
        // The wrapper records the outcome; a key of a set gets its own span here.
        const current = this.#currentAttempt()
        if (current !== undefined && current.attempt.call.operation === 'acquire_all') {
          this.#keySpan(current.span, current.attempt, event)
        }
        return
      }
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
