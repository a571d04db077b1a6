import type { LockMode } from '@baton-lock/core'
import type { Attributes, Counter, Histogram, Meter, UpDownCounter } from '@opentelemetry/api'
import {
  type AcquireOutcome,
  ATTR_BACKEND,
  ATTR_LOST_REASON,
  ATTR_MODE,
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
 * backend: metrics carry the backend, the mode (three values), outcome, state and loss
 * reason, never the key (its cardinality is the application's, not bounded). A mode
 * core would refuse (a bad `mode` option) is left out rather than recorded as given.
 */
export class LockMetrics {
  readonly #acquireDuration: Histogram
  readonly #holdDuration: Histogram
  readonly #held: UpDownCounter
  readonly #contentions: Counter
  readonly #losses: Counter
  readonly #renewals: Counter
  readonly #suspensions: Counter
  #backend = ''
  #byMode: Record<LockMode, Attributes> = byMode({})
  /** Attribute sets with a second attribute, by `mode:value`; bounded (modes times values). */
  #sets = new Map<string, Attributes>()

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
    this.#backend = backend
    this.#byMode = byMode({ [ATTR_BACKEND]: backend })
    this.#sets = new Map()
  }

  acquireEnded(outcome: AcquireOutcome, mode: LockMode | undefined, waitedMs: number): void {
    this.#acquireDuration.record(waitedMs / 1000, this.#with(mode, ATTR_OUTCOME, outcome))
  }

  granted(mode: LockMode): void {
    this.#held.add(1, this.#modeSet(mode))
  }

  contended(mode: LockMode): void {
    this.#contentions.add(1, this.#modeSet(mode))
  }

  renewed(mode: LockMode): void {
    this.#renewals.add(1, this.#modeSet(mode))
  }

  suspended(mode: LockMode): void {
    this.#suspensions.add(1, this.#modeSet(mode))
  }

  released(mode: LockMode, heldMs: number): void {
    this.#held.add(-1, this.#modeSet(mode))
    this.#holdDuration.record(heldMs / 1000, this.#with(mode, ATTR_STATE, 'released'))
  }

  lost(mode: LockMode, heldMs: number, reason: string): void {
    this.#held.add(-1, this.#modeSet(mode))
    this.#holdDuration.record(heldMs / 1000, this.#with(mode, ATTR_STATE, 'lost'))
    this.#losses.add(1, this.#with(mode, ATTR_LOST_REASON, reason))
  }

  /** The backend and mode; an event from a newer core with a mode unknown here gets its own set. */
  #modeSet(mode: LockMode): Attributes {
    return this.#byMode[mode] ?? this.#with(mode, '', '')
  }

  #with(mode: LockMode | undefined, name: string, value: string): Attributes {
    const id = `${mode ?? ''}:${name}:${value}`
    let attributes = this.#sets.get(id)
    if (attributes === undefined) {
      attributes = { [ATTR_BACKEND]: this.#backend }
      if (mode !== undefined) attributes[ATTR_MODE] = mode
      if (name !== '') attributes[name] = value
      this.#sets.set(id, attributes)
    }
    return attributes
  }
}

function byMode(base: Attributes): Record<LockMode, Attributes> {
  return {
    exclusive: { ...base, [ATTR_MODE]: 'exclusive' },
    shared: { ...base, [ATTR_MODE]: 'shared' },
    semaphore: { ...base, [ATTR_MODE]: 'semaphore' },
  }
}
