import type { Attributes, Counter, Histogram, Meter, UpDownCounter } from '@opentelemetry/api'
import {
  type AcquireOutcome,
  ATTR_BACKEND,
  ATTR_LOST_REASON,
  ATTR_OUTCOME,
  ATTR_STATE,
  HOLD_BUCKETS_S,
  METRIC_ACQUIRE_DURATION,
  METRIC_CONTENTIONS,
  METRIC_HELD,
  METRIC_HOLD_DURATION,
  METRIC_LOSSES,
  METRIC_RENEWALS,
  METRIC_SUSPENSIONS,
  WAIT_BUCKETS_S,
} from './semantics.js'

/**
 * The instruments of one instrumented Locker, with their attribute sets built once per
 * backend: metrics carry the backend, outcome, state and loss reason, never the key (its
 * cardinality is the application's, not bounded).
 */
export class LockMetrics {
  readonly #acquireDuration: Histogram
  readonly #holdDuration: Histogram
  readonly #held: UpDownCounter
  readonly #contentions: Counter
  readonly #losses: Counter
  readonly #renewals: Counter
  readonly #suspensions: Counter
  #base: Attributes = {}
  #byOutcome = new Map<AcquireOutcome, Attributes>()
  #released: Attributes = {}
  #lost: Attributes = {}
  #byReason = new Map<string, Attributes>()

  constructor(meter: Meter, backend: string) {
    this.#acquireDuration = meter.createHistogram(METRIC_ACQUIRE_DURATION, {
      description: 'Time from the call of acquire or tryAcquire to its outcome',
      unit: 's',
      advice: WAIT_BUCKETS_S,
    })
    this.#holdDuration = meter.createHistogram(METRIC_HOLD_DURATION, {
      description: 'Time a lock was held, from grant to release or loss',
      unit: 's',
      advice: HOLD_BUCKETS_S,
    })
    this.#held = meter.createUpDownCounter(METRIC_HELD, {
      description: 'Locks this process holds now',
      unit: '{lock}',
    })
    this.#contentions = meter.createCounter(METRIC_CONTENTIONS, {
      description: 'Acquires that found the key held and had to wait or give up',
      unit: '{contention}',
    })
    this.#losses = meter.createCounter(METRIC_LOSSES, {
      description: 'Held locks lost before release, by reason',
      unit: '{loss}',
    })
    this.#renewals = meter.createCounter(METRIC_RENEWALS, {
      description: 'Renewals the backend confirmed',
      unit: '{renewal}',
    })
    this.#suspensions = meter.createCounter(METRIC_SUSPENSIONS, {
      description: 'Renewals overdue or failed: the lock was suspended until confirmed again',
      unit: '{suspension}',
    })
    this.setBackend(backend)
  }

  /** Rebuilds the attribute sets for `backend`. */
  setBackend(backend: string): void {
    this.#base = { [ATTR_BACKEND]: backend }
    this.#byOutcome = new Map()
    this.#released = { [ATTR_BACKEND]: backend, [ATTR_STATE]: 'released' }
    this.#lost = { [ATTR_BACKEND]: backend, [ATTR_STATE]: 'lost' }
    this.#byReason = new Map()
  }

  acquireEnded(outcome: AcquireOutcome, waitedMs: number): void {
    let attributes = this.#byOutcome.get(outcome)
    if (attributes === undefined) {
      attributes = { ...this.#base, [ATTR_OUTCOME]: outcome }
      this.#byOutcome.set(outcome, attributes)
    }
    this.#acquireDuration.record(waitedMs / 1000, attributes)
  }

  granted(): void {
    this.#held.add(1, this.#base)
  }

  contended(): void {
    this.#contentions.add(1, this.#base)
  }

  renewed(): void {
    this.#renewals.add(1, this.#base)
  }

  suspended(): void {
    this.#suspensions.add(1, this.#base)
  }

  released(heldMs: number): void {
    this.#held.add(-1, this.#base)
    this.#holdDuration.record(heldMs / 1000, this.#released)
  }

  lost(heldMs: number, reason: string): void {
    this.#held.add(-1, this.#base)
    this.#holdDuration.record(heldMs / 1000, this.#lost)
    let attributes = this.#byReason.get(reason)
    if (attributes === undefined) {
      attributes = { ...this.#base, [ATTR_LOST_REASON]: reason }
      this.#byReason.set(reason, attributes)
    }
    this.#losses.add(1, attributes)
  }
}
