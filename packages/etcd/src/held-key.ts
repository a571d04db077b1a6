import type { SharedLease } from './shared-lease.js'

/** What the driver keeps per held lock: its etcd key, create revision (fence) and lease. */
export interface HeldKey {
  readonly key: Buffer
  readonly createRevision: string
  /** The name its clean-ups are serialised under (see `RequestPlan.cleanupName`). */
  readonly cleanupName: string
  /** The lease the key is on now (`extend` to another TTL moves it). */
  shared: SharedLease
}
