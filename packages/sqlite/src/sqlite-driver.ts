import { resolve } from 'node:path'
import {
  type AcquireRequest,
  type Capabilities,
  type DriverLease,
  DriverLifecycle,
  LeaseBook,
  type LockDriver,
  type LockInfo,
  pollForGrant,
  type RenewResult,
} from '@baton-lock/core/driver'
import type { LeaseRow, LeaseStore } from './lease-store.js'
import { openLeaseStore } from './open-database.js'
import { SQLITE_CAPABILITIES } from './sqlite-capabilities.js'
import type { SqliteBinding } from './sqlite-connection.js'
import { type SqliteDriverOptions, sqlitePathOf } from './sqlite-options.js'
import { sleepUntilWoken, wake, wakeId } from './wake-registry.js'

/**
 * The embedded default: leases in a local SQLite file, shared by every process on the
 * host that opens the same path, with no server. Each driver owns one connection.
 * Waiters poll with bounded backoff (capped by the holder's remaining lease), and are
 * woken at once by a release from the same process. The constructor opens the file:
 * one it cannot use fails with a `LockBackendError` naming the path and the reason, and
 * no loadable SQLite binding with a `LockUnsupportedError` saying what to install.
 */
export class SqliteDriver implements LockDriver {
  readonly name = 'sqlite'
  readonly capabilities: Capabilities = SQLITE_CAPABILITIES
  /** Absolute path of the database file. */
  readonly file: string
  /** The SQLite binding in use. */
  readonly binding: SqliteBinding
  readonly #store: LeaseStore
  readonly #pollMaxMs: number
  readonly #held = new LeaseBook()
  readonly #lifecycle = new DriverLifecycle('sqlite')

  /** A driver for `sqlite:PATH` URLs (`sqlite:///abs/path` too); `sqlite:` alone is `.baton/locks.db`. */
  static fromUrl(url: string): SqliteDriver {
    return new SqliteDriver({ path: sqlitePathOf(url) })
  }

  constructor(options: SqliteDriverOptions) {
    if (typeof options?.path !== 'string' || options.path === '') {
      throw new TypeError(
        `SqliteDriver: path must be a non-empty string, got ${String(options?.path)}`,
      )
    }
    this.file = options.path === ':memory:' ? ':memory:' : resolve(options.path)
    this.#pollMaxMs = options.pollMaxMs ?? 20
    this.#store = openLeaseStore(this.file, {
      binding: options.binding,
      busyTimeoutMs: options.busyTimeoutMs ?? 5_000,
      nativeBinding:
        options.nativeBinding ?? (process.env.BATON_SQLITE_NATIVE_BINDING || undefined),
      synchronous: options.synchronous ?? 'normal',
    })
    this.binding = this.#store.binding
  }

  /** Opens nothing: the file is open from construction; rejects once closed. */
  async ready(): Promise<void> {
    this.#lifecycle.assertOpen()
  }

  async acquire(req: AcquireRequest): Promise<DriverLease | null> {
    this.#lifecycle.assertOpen()
    const id = wakeId(this.file, req.key)
    let tries = 0
    return pollForGrant({
      attempt: async () => {
        // After the first try, look before taking the write lock: a WAL read costs no lock.
        const remainingMs = tries++ === 0 ? 0 : this.#store.remainingMs(req.key)
        if (remainingMs > 0) return { lease: null, holderTtlMs: remainingMs }
        const sentAtMs = performance.now()
        const result = this.#store.grant(req.key, req.owner, req.ttlMs)
        if (!result.granted) return { lease: null, holderTtlMs: result.remainingMs }
        return {
          lease: this.#held.grant(
            req,
            { fence: result.fence, ttlMs: req.ttlMs, sentAtMs },
            undefined,
          ),
        }
      },
      waitMs: req.waitMs,
      signal: AbortSignal.any([req.signal, this.#lifecycle.signal]),
      maxMs: this.#pollMaxMs,
      // a release in this process wakes the waiter at once; other processes' by polling
      pause: (ms, signal) => sleepUntilWoken(id, ms, signal),
    })
  }

  async renew(lease: DriverLease, ttlMs: number): Promise<RenewResult> {
    this.#lifecycle.assertOpen()
    if (this.#store.extend(lease.key, lease.owner, ttlMs)) return { ok: true, ttlMs }
    this.#held.forget(lease)
    return { ok: false }
  }

  async renewMany(leases: readonly DriverLease[], ttlMs: number): Promise<RenewResult[]> {
    this.#lifecycle.assertOpen()
    const confirmed = this.#store.extendMany(leases, ttlMs)
    return confirmed.map((ok, i) => {
      if (ok) return { ok: true, ttlMs }
      this.#held.forget(leases[i] as DriverLease)
      return { ok: false }
    })
  }

  async release(lease: DriverLease): Promise<boolean> {
    this.#lifecycle.assertOpen()
    this.#held.forget(lease)
    const freed = this.#store.release(lease.key, lease.owner)
    wake(wakeId(this.file, lease.key))
    return freed
  }

  async inspect(key: string): Promise<LockInfo | null> {
    this.#lifecycle.assertOpen()
    const row = this.#store.read(key)
    return row === undefined ? null : toInfo(row)
  }

  async list(prefix: string): Promise<Array<LockInfo & { readonly key: string }>> {
    this.#lifecycle.assertOpen()
    return this.#store
      .list()
      .filter((row) => row.key.startsWith(prefix))
      .map((row) => ({ key: row.key, ...toInfo(row) }))
  }

  async forceRelease(key: string): Promise<boolean> {
    this.#lifecycle.assertOpen()
    const freed = this.#store.forceRelease(key)
    wake(wakeId(this.file, key))
    return freed
  }

  /** Ends every wait, deletes the rows of leases still held, closes the connection; idempotent. */
  close(): Promise<void> {
    return this.#lifecycle.close(async () => {
      try {
        for (const { lease } of this.#held.drain()) {
          this.#store.release(lease.key, lease.owner)
          wake(wakeId(this.file, lease.key))
        }
      } finally {
        this.#store.close()
      }
    })
  }
}

function toInfo(row: LeaseRow): LockInfo {
  return {
    held: true,
    fence: row.fence,
    owner: row.owner,
    ttlRemainingMs: Math.max(0, row.expiresAtMs - Date.now()),
  }
}
