import type { Capabilities } from '../capabilities.js'
import type { LockDriver, LockMode } from '../driver.js'
import type { KitTiming } from './timing.js'

/** A lock as the driver saw it: `key` is the namespaced key (`${namespace}:${key}`). */
export interface DroppableLock {
  readonly key: string
  readonly owner: string
  readonly fence: bigint
  /**
   * The grant's mode: `shared` for a reader (RS2), `semaphore` for a permit of the
   * semaphore named `key` (MS2), which lives apart from the lock of that key. Absent means
   * `exclusive`.
   */
  readonly mode?: LockMode
}

/** Ways to make the backend misbehave on purpose; each enables the checks that need it. */
export interface ConformanceFaults {
  /** Makes the backend drop this lock as a server would (eviction, admin kill, session end). Enables the loss group. */
  readonly dropLock?: (lock: DroppableLock) => Promise<void>
}

/** What `runConformance` and `runChecks` take. */
export interface ConformanceOptions {
  /** Name shown in the test report, e.g. "redis" or "postgres (pgbouncer session mode)". */
  readonly name: string
  /** Returns a fresh, independent driver (its own connection or session) on every call; the kit closes each one. */
  readonly createDriver: () => LockDriver | Promise<LockDriver>
  /** Optional fault hooks; checks that need a missing hook are skipped with the reason. */
  readonly faults?: ConformanceFaults
  /** First part of the run's namespace, `<prefix>-<8 hex>`, so an operator can tell the kit's keys. Default `kit`. */
  readonly namespacePrefix?: string
}

/** Everything a check knows about the driver under test, fixed for one kit run. */
export interface KitEnvironment {
  readonly options: ConformanceOptions
  /** The capabilities the driver declared, read from one probe driver. */
  readonly capabilities: Capabilities
  /** The driver's own `name`. */
  readonly driverName: string
  /** The driver implements `renewMany`. */
  readonly driverHasRenewMany: boolean
  /** Namespace of this run, `kit-<8 hex>` (see `namespacePrefix`): every key the kit uses lives under it. */
  readonly namespace: string
  /** TTLs, waits and slacks derived from `capabilities.ttlResolutionMs`. */
  readonly timing: KitTiming
  /** Next number for a unique key in this run. */
  nextKeyId(): number
}
