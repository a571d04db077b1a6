import type { LockMode } from './driver.js'

/** Common fields of every lock event. `key` is the user's key, without namespace. */
interface EventBase {
  readonly key: string
  /** The acquire's or the handle's mode: `exclusive`, `shared`, or `semaphore` (a permit). */
  readonly mode: LockMode
  /** Monotonic time of the event, in ms. */
  readonly atMs: number
}

/** What `onEvent` receives. Events never carry credentials. */
export type LockEvent =
  | (EventBase & {
      readonly type: 'acquired'
      readonly fence: bigint
      readonly owner: string
      readonly waitedMs: number
    })
  | (EventBase & { readonly type: 'contended'; readonly owner: string })
  | (EventBase & { readonly type: 'timeout'; readonly waitedMs: number })
  | (EventBase & { readonly type: 'renewed'; readonly fence: bigint; readonly heldMs: number })
  | (EventBase & { readonly type: 'suspended'; readonly fence: bigint; readonly heldMs: number })
  | (EventBase & {
      readonly type: 'lost'
      readonly fence: bigint
      readonly heldMs: number
      readonly error: Error
    })
  | (EventBase & { readonly type: 'released'; readonly fence: bigint; readonly heldMs: number })

/** The `type` of every event. */
export type LockEventType = LockEvent['type']
