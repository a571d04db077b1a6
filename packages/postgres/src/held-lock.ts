import type { AcquireRequest, DriverLease } from '@baton-lock/core'
import type { LockSession } from './lock-session.js'
import { sessionEndedError } from './session-errors.js'

/** A lease this driver handed out, with what it needs to release, confirm or lose it. */
export interface HeldLock {
  readonly lease: DriverLease
  /** The advisory key. */
  readonly hash: bigint
  /** The session whose backend holds the advisory lock. */
  readonly session: LockSession
  /** Aborts `lease.lost`. */
  readonly controller: AbortController
}

/** The driver's leases, by owner, by advisory key and by session. */
export class HeldLocks {
  readonly #byOwner = new Map<string, HeldLock>()
  readonly #byHash = new Map<bigint, HeldLock>()
  readonly #bySession = new Map<LockSession, Set<HeldLock>>()

  /** How many leases are held. */
  get size(): number {
    return this.#byOwner.size
  }

  add(lock: HeldLock): void {
    this.#byOwner.set(lock.lease.owner, lock)
    this.#byHash.set(lock.hash, lock)
    let set = this.#bySession.get(lock.session)
    if (set === undefined) {
      set = new Set()
      this.#bySession.set(lock.session, set)
    }
    set.add(lock)
  }

  /** Records a grant on `session` and returns its lease; lost at once if the session already ended. */
  grant(
    session: LockSession,
    req: AcquireRequest,
    hash: bigint,
    fence: bigint,
    sentAtMs: number,
  ): DriverLease {
    session.held.add(hash)
    const controller = new AbortController()
    const lease: DriverLease = Object.freeze({
      key: req.key,
      owner: req.owner,
      fence,
      ttlMs: req.ttlMs,
      sentAtMs,
      lost: controller.signal,
    })
    const lock: HeldLock = { lease, hash, session, controller }
    this.add(lock)
    if (session.ended) this.lose(lock, sessionEndedError(session, undefined))
    return lease
  }

  /** The live lock of `lease`, matched by owner and key. */
  of(lease: DriverLease): HeldLock | undefined {
    const lock = this.#byOwner.get(lease.owner)
    return lock !== undefined && lock.lease.key === lease.key ? lock : undefined
  }

  byHash(hash: bigint): HeldLock | undefined {
    return this.#byHash.get(hash)
  }

  delete(lock: HeldLock): void {
    if (this.#byOwner.get(lock.lease.owner) === lock) this.#byOwner.delete(lock.lease.owner)
    if (this.#byHash.get(lock.hash) === lock) this.#byHash.delete(lock.hash)
    this.#bySession.get(lock.session)?.delete(lock)
  }

  /** Forgets every lease of `session` and aborts their `lost` signals with `reason`. */
  loseSession(session: LockSession, reason: Error): void {
    const locks = this.#bySession.get(session)
    this.#bySession.delete(session)
    for (const lock of locks ?? []) this.lose(lock, reason)
  }

  /** Forgets one lease and aborts its `lost` signal with `reason`. */
  lose(lock: HeldLock, reason: Error): void {
    this.delete(lock)
    lock.controller.abort(reason)
  }
}
