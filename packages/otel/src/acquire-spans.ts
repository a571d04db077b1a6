import type { LockEvent, LockHandle } from '@baton-lock/core'
import {
  type Attributes,
  type Context,
  context,
  type Link,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from '@opentelemetry/api'
import type { HoldSpans } from './hold-spans.js'
import { addKeyAttribute, type RecordKeys } from './key-attributes.js'
import { errorType, outcomeOf } from './lock-errors.js'
import type { LockMetrics } from './lock-metrics.js'
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
  SPAN_ACQUIRE,
  SPAN_ACQUIRE_ALL,
} from './semantics.js'
import type { AcquireCall } from './wrap-locker.js'

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

/** Where a hold span goes: under the caller, linked to the acquire span that got it. */
export interface HoldPlace {
  readonly parent: Context
  readonly link: Link | undefined
}

/**
 * The acquire side of one instrumented Locker: a span and an `acquire.duration` point per
 * acquire call (`baton.lock.acquire`, or `baton.lock.acquire_all` for a set), run in the
 * span's context so that core's events, emitted inside the call, find it again.
 */
export class AcquireSpans {
  readonly #tracer: Tracer
  readonly #recordKeys: RecordKeys
  readonly #metrics: LockMetrics
  readonly #holds: HoldSpans
  readonly #onGranted: () => void
  readonly #attempts = new WeakMap<Span, Attempt>()
  #backend = 'unknown'

  constructor(
    tracer: Tracer,
    recordKeys: RecordKeys,
    metrics: LockMetrics,
    holds: HoldSpans,
    onGranted: () => void,
  ) {
    this.#tracer = tracer
    this.#recordKeys = recordKeys
    this.#metrics = metrics
    this.#holds = holds
    this.#onGranted = onGranted
  }

  setBackend(backend: string): void {
    this.#backend = backend
  }

  observe<T>(call: AcquireCall, take: () => Promise<T>): Promise<T> {
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
    if (outcome === 'acquired') this.#onGranted()
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
    // The wait is on the Locker's clock, which a test may fake: keep the start in this process's past.
    const nowMs = performance.now()
    const waitedMs = event.waitedMs > 0 ? Math.min(event.waitedMs, nowMs) : 0
    const startTime = nowMs - waitedMs
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

  /** A `contended` event: marks the acquire it belongs to. */
  contended(): void {
    const attempt = this.#currentAttempt()?.attempt
    if (attempt === undefined) return
    attempt.contended = true
    attempt.keyContended = true
  }

  /** An `acquired` event: where its hold span goes; a key of a set gets its acquire span now. */
  acquired(event: Extract<LockEvent, { type: 'acquired' }>): HoldPlace {
    const current = this.#currentAttempt()
    if (current === undefined) return { parent: context.active(), link: undefined }
    const { span, attempt } = current
    const acquire =
      attempt.call.operation === 'acquire_all' ? this.#keySpan(span, attempt, event) : span
    return { parent: attempt.parent, link: { context: acquire.spanContext() } }
  }

  /** A `timeout` event: the wrapper records the outcome; a key of a set gets its own span here. */
  timeout(event: Extract<LockEvent, { type: 'timeout' }>): void {
    const current = this.#currentAttempt()
    if (current?.attempt.call.operation === 'acquire_all') {
      this.#keySpan(current.span, current.attempt, event)
    }
  }

  /** The acquire whose span core's event runs under, when the context manager carried it. */
  #currentAttempt(): { span: Span; attempt: Attempt } | undefined {
    const span = trace.getSpan(context.active())
    if (span === undefined) return undefined
    const attempt = this.#attempts.get(span)
    return attempt === undefined ? undefined : { span, attempt }
  }
}
