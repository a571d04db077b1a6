import type { DriverLifecycle } from '@baton-lock/core/driver'
import type { Etcd3 } from 'etcd3'
import type { LeasePool } from './lease-pool.js'
import type { MutexProtocol } from './mutex-protocol.js'
import type { SharedLease } from './shared-lease.js'

/** How often a clean-up tries to delete a key before it revokes the lease instead. */
const ATTEMPTS = 3

/**
 * Deletes keys this driver abandoned (a timed-out or aborted wait, a grant nobody took, a
 * release whose reply was lost) in the background, one name at a time: the next acquire
 * of a name waits for its clean-up, so a late delete never removes a newer key of ours.
 * If a key cannot be deleted, its lease is revoked, so that no phantom waiter or holder
 * outlives its acquire (S4).
 */
export class KeyCleanup {
  readonly #client: Etcd3
  readonly #protocol: MutexProtocol
  readonly #pool: LeasePool
  readonly #lifecycle: DriverLifecycle
  readonly #call: () => { deadline: number }
  readonly #byName = new Map<string, Promise<void>>()

  constructor(deps: {
    client: Etcd3
    protocol: MutexProtocol
    pool: LeasePool
    lifecycle: DriverLifecycle
    call: () => { deadline: number }
  }) {
    this.#client = deps.client
    this.#protocol = deps.protocol
    this.#pool = deps.pool
    this.#lifecycle = deps.lifecycle
    this.#call = deps.call
  }

  /** Resolves once no clean-up of `name` is in flight (never rejects). */
  settled(name: string): Promise<void> | undefined {
    return this.#byName.get(name)
  }

  /**
   * Deletes `key` (only if it still has `createRevision`, when known). `ownsUse`: the
   * clean-up gives back the caller's use of `shared` when done. Never rejects.
   */
  delete(
    name: string,
    key: Buffer,
    createRevision: string | undefined,
    shared: SharedLease,
    ownsUse = true,
  ): Promise<void> {
    const previous = this.#byName.get(name)
    const work = (async () => {
      await previous
      try {
        for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
          // A dead lease took its keys with it.
          if (shared.dead.aborted) return
          try {
            if (createRevision === undefined) {
              await this.#client.kv.deleteRange({ key }, this.#call())
            } else {
              await this.#protocol.deleteOwn(key, createRevision, this.#call())
            }
            return
          } catch {
            await new Promise((r) => setTimeout(r, 100 * (attempt + 1)).unref())
          }
        }
        await this.#pool.revoke(shared, new Error(`etcd: could not delete ${key.toString()}`))
      } finally {
        if (ownsUse) this.#pool.unuse(shared)
      }
    })()
    const tracked = work
      .catch(() => {})
      .finally(() => {
        if (this.#byName.get(name) === tracked) this.#byName.delete(name)
      })
    this.#byName.set(name, tracked)
    this.#lifecycle.track(tracked)
    return tracked
  }
}
