import { resolve } from 'node:path'
import type {
  AcquireRequest,
  Capabilities,
  DriverLease,
  LockDriver,
  LockInfo,
  RenewResult,
} from '@baton-lock/core'
import { Backoff, defineCapabilities } from '@baton-lock/core'
import type { LeaseRow } from './lease-store.js'
import { LeaseStore } from './lease-store.js'
import { openDatabase } from './open-database.js'
import { sleepUntilWoken, wake, wakeId } from './wake-registry.js'

/** Options of a `SqliteDriver`, frozen at construction. */
export interface SqliteDriverOptions {
  /** Database file, relative to the working directory; parent directories are created. */
  readonly path: string
  /** How long one statement waits for another process's write lock, in ms. Default 5 000. */
  readonly busyTimeoutMs?: number
  /** Longest pause between two polls of a held key, in ms. Default 20. */
  readonly pollMaxMs?: number
  /** `synchronous` pragma; `full` keeps fences across power loss too, at an fsync per write. Default `normal`. */
  readonly synchronous?: 'normal' | 'full'
  /** A `better_sqlite3.node` for another Node ABI. Default: env `BATON_SQLITE_NATIVE_BINDING`, else the installed one. */
  readonly nativeBinding?: string
}

const CAPABILITIES = defineCapabilities({
  expiry: 'lease',
  ttlResolutionMs: 1,
  nativeWait: false,
  fair: false,
  fencing: 'durable',
  lossSignal: false,
  inspect: true,
  maxKeyBytes: 1024,
})

/**
 * The embedded default: leases in a local SQLite file, shared by every process on the
 * host that opens the same path, with no server. Each driver owns one connection.
 * Waiters poll with bounded backoff (capped by the holder's remaining lease), and are
 * woken at once by a release from the same process.
 */
export class SqliteDriver implements LockDriver {
  readonly name = 'sqlite'
  readonly capabilities: Capabilities = CAPABILITIES
  /** Absolute path of the database file. */
  readonly file: string
  readonly #store: LeaseStore
  readonly #pollMaxMs: number
  readonly #held = new Map<string, DriverLease>()
  readonly #closing = new AbortController()
  #closed = false

  constructor(options: SqliteDriverOptions) {
    if (typeof options?.path !== 'string' || options.path === '') {
      throw new TypeError(
        `SqliteDriver: path must be a non-empty string, got ${String(options?.path)}`,
      )
    }
    this.file = options.path === ':memory:' ? ':memory:' : resolve(options.path)
    this.#pollMaxMs = options.pollMaxMs ?? 20
    const db = openDatabase(this.file, {
      busyTimeoutMs: options.busyTimeoutMs ?? 5_000,
      nativeBinding:
        options.nativeBinding ?? (process.env.BATON_SQLITE_NATIVE_BINDING || undefined),
      synchronous: options.synchronous ?? 'normal',
    })
    try {
      this.#store = new LeaseStore(db)
      this.#store.purgeExpired()
    } catch (err) {
      db.close()
      throw err
    }
  }

  async acquire(req: AcquireRequest): Promise<DriverLease | null> {
    this.#assertOpen()
    const id = wakeId(this.file, req.key)
    const deadlineMs = performance.now() + req.waitMs
    const backoff = new Backoff({ minMs: 1, maxMs: this.#pollMaxMs })
    const stop = anySignal(req.signal, this.#closing.signal)
    try {
      for (let attempt = 0; ; attempt++) {
        if (stop.signal.aborted) return null
        // After the first attempt, look before taking the write lock: a WAL read costs no lock.
        let remainingMs = attempt === 0 ? 0 : this.#store.remainingMs(req.key)
        if (remainingMs === 0) {
          const sentAtMs = performance.now()
          const result = this.#store.grant(req.key, req.owner, req.ttlMs)
          if (result.granted) return this.#track(req, result.fence, sentAtMs)
          remainingMs = result.remainingMs
        }
        const leftMs = deadlineMs - performance.now()
        if (leftMs <= 0) return null
        await sleepUntilWoken(
          id,
          Math.min(backoff.next(Math.max(1, remainingMs)), leftMs),
          stop.signal,
        )
      }
    } finally {
      stop.dispose()
    }
  }

  async renew(lease: DriverLease, ttlMs: number): Promise<RenewResult> {
    this.#assertOpen()
    if (this.#store.extend(lease.key, lease.owner, ttlMs)) return { ok: true, ttlMs }
    this.#held.delete(lease.owner)
    return { ok: false }
  }

  async renewMany(leases: readonly DriverLease[], ttlMs: number): Promise<RenewResult[]> {
    this.#assertOpen()
    const confirmed = this.#store.extendMany(leases, ttlMs)
    return confirmed.map((ok, i) => {
      if (ok) return { ok: true, ttlMs }
      this.#held.delete((leases[i] as DriverLease).owner)
      return { ok: false }
    })
  }

  async release(lease: DriverLease): Promise<boolean> {
    this.#assertOpen()
    this.#held.delete(lease.owner)
    const freed = this.#store.release(lease.key, lease.owner)
    wake(wakeId(this.file, lease.key))
    return freed
  }

  async inspect(key: string): Promise<LockInfo | null> {
    this.#assertOpen()
    const row = this.#store.read(key)
    return row === undefined ? null : toInfo(row)
  }

  async list(prefix: string): Promise<Array<LockInfo & { readonly key: string }>> {
    this.#assertOpen()
    return this.#store
      .list()
      .filter((row) => row.key.startsWith(prefix))
      .map((row) => ({ key: row.key, ...toInfo(row) }))
  }

  async forceRelease(key: string): Promise<boolean> {
    this.#assertOpen()
    const freed = this.#store.forceRelease(key)
    wake(wakeId(this.file, key))
    return freed
  }

  /** Ends every wait, deletes the rows of leases still held, closes the connection; idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#closing.abort(new Error('SqliteDriver closed'))
    try {
      for (const lease of this.#held.values()) {
        this.#store.release(lease.key, lease.owner)
        wake(wakeId(this.file, lease.key))
      }
    } finally {
      this.#held.clear()
      this.#store.close()
    }
  }

  #track(req: AcquireRequest, fence: bigint, sentAtMs: number): DriverLease {
    const lease: DriverLease = {
      key: req.key,
      owner: req.owner,
      fence,
      ttlMs: req.ttlMs,
      sentAtMs,
      lost: new AbortController().signal,
    }
    this.#held.set(req.owner, lease)
    return lease
  }

  #assertOpen(): void {
    if (this.#closed) throw new Error(`SqliteDriver (${this.file}) is closed`)
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

/** A signal that aborts when either input does; `dispose()` detaches the listeners. */
function anySignal(a: AbortSignal, b: AbortSignal): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController()
  const onA = () => controller.abort(a.reason)
  const onB = () => controller.abort(b.reason)
  if (a.aborted) onA()
  else if (b.aborted) onB()
  a.addEventListener('abort', onA, { once: true })
  b.addEventListener('abort', onB, { once: true })
  return {
    signal: controller.signal,
    dispose() {
      a.removeEventListener('abort', onA)
      b.removeEventListener('abort', onB)
    },
  }
}
