/**
 * Core-internal: how the leases core's own kit builds (`LeaseBook`, `MemoryStore`) tell
 * their loss without an AbortSignal. Their `lost` signal is made on first read, and on
 * Node 20 an AbortSignal costs microseconds to make and to listen to; the held lock asks
 * through these instead when the lease has them, and reads `lease.lost` when it does not
 * (any other driver's lease, a copy of another core's). Never exported: a driver's
 * contract stays `DriverLease.lost`.
 */
/** `lease[LOSS_STATE]()`: whether the lease is lost. */
export const LOSS_STATE = Symbol('baton-lock.lossState')
/** `lease[LOSS_WATCH](onLost)`: the loss listener. */
export const LOSS_WATCH = Symbol('baton-lock.lossWatch')

/** The lease's side of the protocol. */
export interface LossNotifier {
  /** True once the lease is lost, the same moment `lost` aborts. */
  [LOSS_STATE](): boolean
  /**
   * Calls `onLost` with the loss reason when the lease is lost, instead of an `abort`
   * listener on `lost` (one watcher; undefined stops watching). Not called when already lost.
   */
  [LOSS_WATCH](onLost: ((reason: unknown) => void) | undefined): void
}

/**
 * The lease as a `LossNotifier`, or undefined when it is not one, or when its `lost` was
 * replaced on the object (a wrapper's own signal then is the truth, not the kit's state).
 */
export function lossNotifierOf(lease: object): LossNotifier | undefined {
  return LOSS_WATCH in lease && !Object.hasOwn(lease, 'lost') ? (lease as LossNotifier) : undefined
}
