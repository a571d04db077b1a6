/** What the demo's parent tells each worker (env BATON_DEMO_CONFIG, JSON). */
export interface DemoConfig {
  readonly url: string
  readonly key: string
  readonly increments: number
  readonly counterPath: string
  readonly ttlMs: number
  readonly waitMs: number
}

/** One hold of the lock, timed with `performance.timeOrigin + performance.now()` (ms). */
export interface HoldRecord {
  readonly fence: string
  readonly acquiredAtMs: number
  readonly releasingAtMs: number
}

/** Messages from a worker to the parent. */
export type WorkerMessage =
  | { readonly type: 'ready' }
  | { readonly type: 'progress'; readonly done: number; readonly fence: string }
  | {
      readonly type: 'done'
      readonly records: readonly HoldRecord[]
      readonly staleWrites: number
    }
  | { readonly type: 'error'; readonly message: string }

/** Messages from the parent to a worker. */
export type ParentMessage = { readonly type: 'start' }

/** Epoch milliseconds with sub-millisecond resolution, comparable across processes on one host. */
export function nowEpochMs(): number {
  return performance.timeOrigin + performance.now()
}
