import type {
  AcquireRequest,
  Capabilities,
  DriverLease,
  LockDriver,
  RenewResult,
} from '@baton-lock/core'
import { nowMs } from '../history.js'
import { forgetLease, onLeaseLost, peekId, request, send } from './ipc.js'

interface BridgeLease extends DriverLease {
  readonly ref: number
}

interface GrantWire {
  ref: number
  fence: string
  ttlMs: number
  /** When the host's MemoryDriver granted it, on the shared monotonic clock (ms). */
  grantedAt: number
}

/**
 * A client process's side of the MemoryDriver the harness hosts (`memory-bridge:`): each call
 * crosses the fork IPC channel, so separate processes contend on one in-memory store, with the
 * MemoryDriver's lease expiry deciding what a dead or stopped client keeps. A lease's `sentAtMs`
 * is the host's grant time (its own `sentAtMs`), carried over on the shared monotonic clock.
 */
export class BridgeDriver implements LockDriver {
  readonly name = 'memory'
  readonly capabilities: Capabilities

  constructor(capabilities: Capabilities) {
    this.capabilities = capabilities
  }

  async acquire(req: AcquireRequest): Promise<DriverLease | null> {
    const id = peekId()
    const onAbort = () => send({ kind: 'driver', id: id + 1_000_000_000, op: 'abort', target: id })
    req.signal.addEventListener('abort', onAbort, { once: true })
    try {
      const grant = await request<GrantWire | null>({
        kind: 'driver',
        op: 'acquire',
        req: { key: req.key, owner: req.owner, ttlMs: req.ttlMs, waitMs: req.waitMs },
      })
      if (grant === null) return null
      // The host's grant time on this process's performance.now() scale (one CLOCK_MONOTONIC).
      const sentAtMs = performance.now() - (nowMs() - grant.grantedAt)
      const lost = new AbortController()
      onLeaseLost(grant.ref, () => lost.abort(new Error('lease lost')))
      const lease: BridgeLease = {
        key: req.key,
        owner: req.owner,
        fence: BigInt(grant.fence),
        ttlMs: grant.ttlMs,
        sentAtMs,
        lost: lost.signal,
        ref: grant.ref,
      }
      return lease
    } finally {
      req.signal.removeEventListener('abort', onAbort)
    }
  }

  renew(lease: DriverLease, ttlMs: number): Promise<RenewResult> {
    return request<RenewResult>({
      kind: 'driver',
      op: 'renew',
      lease: (lease as BridgeLease).ref,
      ttlMs,
    })
  }

  async release(lease: DriverLease): Promise<boolean> {
    const ref = (lease as BridgeLease).ref
    const released = await request<boolean>({ kind: 'driver', op: 'release', lease: ref })
    forgetLease(ref)
    return released
  }

  async close(): Promise<void> {}
}
