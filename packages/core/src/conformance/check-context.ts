import { randomBytes } from 'node:crypto'
import type { Capabilities } from '../capabilities.js'
import type { DriverLease, LockDriver, LockMode } from '../driver.js'
import { Locker } from '../locker.js'
import type { LockerOptions } from '../locker-options.js'
import { describeError } from './conformance-failure.js'
import type { KitEnvironment } from './options.js'
import type { KitTiming } from './timing.js'
import { withTimeout } from './wait-for.js'

/** Thrown by `ctx.skip()`: the check found at run time that it does not apply. */
export class CheckSkipped extends Error {
  constructor(readonly reason: string) {
    super(`skipped: ${reason}`)
    this.name = 'CheckSkipped'
  }
}

/** Options of a raw driver acquire made by a check. */
export interface RawAcquireOptions {
  readonly ttlMs: number
  readonly waitMs: number
  readonly signal?: AbortSignal
  readonly owner?: string
  /** Default `exclusive`. */
  readonly mode?: LockMode
  readonly limit?: number
  readonly value?: string
}

/**
 * What one check works with: fresh drivers and Lockers from the factory, unique keys in
 * the run's namespace, and cleanup that runs (bounded) even when the check fails.
 */
export class CheckContext {
  readonly env: KitEnvironment
  readonly #slug: string
  readonly #cleanups: Array<{ what: string; fn: () => Promise<unknown> }> = []

  constructor(env: KitEnvironment, slug: string) {
    this.env = env
    this.#slug = slug
  }

  get caps(): Capabilities {
    return this.env.capabilities
  }

  get timing(): KitTiming {
    return this.env.timing
  }

  /** A key no other check of this run uses (user key, without namespace). */
  key(label = 'k'): string {
    return `${this.#slug}-${label}-${this.env.nextKeyId()}`
  }

  /** The key as the driver sees it through a kit Locker: `${namespace}:${key}`. */
  nsKey(key: string): string {
    return `${this.env.namespace}:${key}`
  }

  /** A fresh owner id: 32 lowercase hex characters. */
  owner(): string {
    return randomBytes(16).toString('hex')
  }

  /**
   * A fresh driver from the factory, closed at cleanup. It is warmed up with one raw
   * acquire and release of a scratch key, so that a lazy connect does not count against
   * the one-attempt deadlines (core's L3 bound) of the check that uses it.
   */
  async driver(): Promise<LockDriver> {
    const driver = await this.env.options.createDriver()
    this.defer('close a driver', () => driver.close())
    const lease = await driver.acquire({
      key: this.nsKey(`kit-warmup-${this.env.nextKeyId()}`),
      owner: this.owner(),
      ttlMs: this.timing.longTtlMs,
      waitMs: 0,
      mode: 'exclusive',
      signal: new AbortController().signal,
    })
    if (lease !== null) await driver.release(lease)
    return driver
  }

  /** `count` fresh, independent drivers. */
  drivers(count: 2): Promise<[LockDriver, LockDriver]>
  drivers(count: 3): Promise<[LockDriver, LockDriver, LockDriver]>
  drivers(count: number): Promise<LockDriver[]>
  async drivers(count: number): Promise<LockDriver[]> {
    const out: LockDriver[] = []
    for (let i = 0; i < count; i++) out.push(await this.driver())
    return out
  }

  /**
   * A Locker in the run's namespace on `driver` (default: a fresh driver). The kit closes
   * drivers itself, so `closeDriver` defaults to false here; closed at cleanup.
   */
  async locker(options: LockerOptions = {}, driver?: LockDriver): Promise<Locker> {
    const d = driver ?? (await this.driver())
    const locker = new Locker(d, { namespace: this.env.namespace, closeDriver: false, ...options })
    this.defer('close a Locker', () => locker.close())
    return locker
  }

  /** `count` Lockers, each on its own fresh driver. */
  lockers(count: 2, options?: LockerOptions): Promise<[Locker, Locker]>
  lockers(count: 3, options?: LockerOptions): Promise<[Locker, Locker, Locker]>
  lockers(count: number, options?: LockerOptions): Promise<Locker[]>
  async lockers(count: number, options: LockerOptions = {}): Promise<Locker[]> {
    const out: Locker[] = []
    for (let i = 0; i < count; i++) out.push(await this.locker(options))
    return out
  }

  /** Calls `driver.acquire` directly for a namespaced key; a granted lease is released at cleanup. */
  async rawAcquire(
    driver: LockDriver,
    nsKey: string,
    options: RawAcquireOptions,
  ): Promise<DriverLease | null> {
    const lease = await driver.acquire({
      key: nsKey,
      owner: options.owner ?? this.owner(),
      ttlMs: options.ttlMs,
      waitMs: options.waitMs,
      mode: options.mode ?? 'exclusive',
      ...(options.limit === undefined ? {} : { limit: options.limit }),
      ...(options.value === undefined ? {} : { value: options.value }),
      signal: options.signal ?? new AbortController().signal,
    })
    // A check may have released it or closed the driver already: errors here are not findings.
    if (lease !== null)
      this.defer('release a raw lease', () => driver.release(lease).catch(() => false))
    return lease
  }

  /** Registers cleanup; runs in reverse order, bounded, even when the check fails. */
  defer(what: string, fn: () => Promise<unknown>): void {
    this.#cleanups.push({ what, fn })
  }

  /** Stops the check as skipped with `reason` (shown in the report). */
  skip(reason: string): never {
    throw new CheckSkipped(reason)
  }

  /** Runs every cleanup; returns the failures (a driver whose close throws is a finding too). */
  async cleanup(): Promise<string[]> {
    const failures: string[] = []
    const boundMs = this.timing.opTimeoutMs + this.timing.slackMs + 5_000
    while (this.#cleanups.length > 0) {
      const { what, fn } = this.#cleanups.pop() as { what: string; fn: () => Promise<unknown> }
      try {
        await withTimeout(fn, boundMs, `cleanup: ${what}`)
      } catch (err) {
        failures.push(`${what}: ${describeError(err)}`)
      }
    }
    return failures
  }
}
