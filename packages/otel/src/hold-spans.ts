import type { LockEvent } from '@baton-lock/core'
import {
  type Attributes,
  type Context,
  type Link,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
} from '@opentelemetry/api'
import { addKeyAttribute, type RecordKeys } from './key-attributes.js'
import {
  ATTR_BACKEND,
  ATTR_FENCE,
  ATTR_HELD_MS,
  ATTR_LOST_REASON,
  ATTR_MODE,
  ATTR_OWNER,
  ATTR_RENEWALS,
  ATTR_STATE,
  SPAN_HOLD,
} from './semantics.js'

type HoldEvent<T extends LockEvent['type']> = Extract<LockEvent, { type: T }>

interface Hold {
  readonly span: Span
  renewals: number
}

/**
 * One `baton.lock.hold` span per grant, from the `acquired` event to `released` or `lost`.
 * Events name a hold by key and fence, unique among one Locker's live holds (a fence only
 * grows per key); only recording spans are kept, so the no-SDK path stores nothing.
 */
export class HoldSpans {
  readonly #tracer: Tracer
  readonly #recordKeys: RecordKeys
  readonly #holds = new Map<string, Hold>()

  constructor(tracer: Tracer, recordKeys: RecordKeys) {
    this.#tracer = tracer
    this.#recordKeys = recordKeys
  }

  /** Holds whose span is still open. */
  get openCount(): number {
    return this.#holds.size
  }

  start(event: HoldEvent<'acquired'>, backend: string, parent: Context, link?: Link): void {
    const options = { kind: SpanKind.INTERNAL, ...(link === undefined ? {} : { links: [link] }) }
    const span = this.#tracer.startSpan(SPAN_HOLD, options, parent)
    if (!span.isRecording()) return
    const attributes = {
      [ATTR_BACKEND]: backend,
      [ATTR_FENCE]: event.fence.toString(),
      [ATTR_MODE]: event.mode,
      [ATTR_OWNER]: event.owner,
    }
    span.setAttributes(addKeyAttribute(attributes, event.key, this.#recordKeys))
    this.#holds.set(holdId(event), { span, renewals: 0 })
  }

  /** Adds what the events lack (a semaphore's limit) to the open hold of `key` and `fence`. */
  annotate(key: string, fence: bigint, attributes: Attributes): void {
    this.#holds.get(holdId({ key, fence }))?.span.setAttributes(attributes)
  }

  renewed(event: HoldEvent<'renewed'>): void {
    const hold = this.#holds.get(holdId(event))
    if (hold !== undefined) hold.renewals++
  }

  suspended(event: HoldEvent<'suspended'>): void {
    this.#holds.get(holdId(event))?.span.addEvent('suspended', { [ATTR_HELD_MS]: event.heldMs })
  }

  lost(event: HoldEvent<'lost'>, reason: string): void {
    const hold = this.#end(event, 'lost')
    if (hold === undefined) return
    // The error's message names the key: only the reason goes out.
    hold.span.addEvent('lost', { [ATTR_LOST_REASON]: reason, [ATTR_HELD_MS]: event.heldMs })
    hold.span.setAttribute(ATTR_LOST_REASON, reason)
    hold.span.setStatus({ code: SpanStatusCode.ERROR, message: `lock lost: ${reason}` })
    hold.span.end()
  }

  released(event: HoldEvent<'released'>): void {
    this.#end(event, 'released')?.span.end()
  }

  #end(event: HoldEvent<'lost' | 'released'>, state: 'lost' | 'released'): Hold | undefined {
    const id = holdId(event)
    const hold = this.#holds.get(id)
    if (hold === undefined) return undefined
    this.#holds.delete(id)
    hold.span.setAttributes({ [ATTR_STATE]: state, [ATTR_RENEWALS]: hold.renewals })
    return hold
  }
}

/** A fence is all digits, so `fence:key` never collides across keys. */
function holdId(event: { readonly key: string; readonly fence: bigint }): string {
  return `${event.fence}:${event.key}`
}
