import type { LockEvent, Locker } from '@baton-lock/core'
import {
  diag,
  type MeterProvider,
  metrics,
  type Tracer,
  type TracerProvider,
  trace,
} from '@opentelemetry/api'
import { AcquireSpans } from './acquire-spans.js'
import { HoldSpans } from './hold-spans.js'
import { checkRecordKeys, type RecordKeys } from './key-attributes.js'
import { lostReason } from './lock-errors.js'
import { LockMetrics } from './lock-metrics.js'
import { isNoopMeter, isNoopTracing } from './noop-providers.js'
import { SCOPE_NAME, SCOPE_VERSION } from './semantics.js'
import { wrapLocker } from './wrap-locker.js'

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
  readonly #acquires: AcquireSpans
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
    this.#acquires = new AcquireSpans(
      this.#tracer,
      this.#recordKeys,
      this.#metrics,
      this.#holds,
      () => {
        if (this.#eventsSeen === 0) this.#warnUnwired()
      },
    )
    this.#acquires.setBackend(this.#backend)
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
      this.#acquires.setBackend(this.#backend)
    }
    wrapLocker(locker, (call, take) => this.#acquires.observe(call, take))
    return locker
  }

  #record(event: LockEvent): void {
    this.#eventsSeen++
    switch (event.type) {
      case 'contended': {
        this.#metrics.contended(event.mode)
        this.#acquires.contended()
        return
      }
      case 'acquired': {
        this.#metrics.granted(event.mode)
        const { parent, link } = this.#acquires.acquired(event)
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
      case 'timeout':
        this.#acquires.timeout(event)
        return
    }
  }

  #warnUnwired(): void {
    if (this.#warned) return
    this.#warned = true
    diag.warn(
      "@baton-lock/otel: a lock was acquired but no event reached LockTelemetry.onEvent: pass it as the Locker's onEvent option, or hold spans and hold metrics stay empty",
    )
  }
}
