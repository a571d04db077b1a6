import type { ConformanceOptions } from '../../src/conformance/index.js'
import { MemoryStore } from '../../src/driver-kit/index.js'
import { type LockDriver, MemoryDriver } from '../../src/index.js'
import { FenceReusedDriver } from './fence-reused-driver.js'
import {
  FenceReusedAcrossModesDriver,
  LimitNeverResetDriver,
  LostWakeupDriver,
  SemaphoreOnLockDriver,
  SemaphoreOverAdmitsDriver,
  SharedBesideExclusiveDriver,
  TwoLeadersDriver,
} from './mode-breaking-drivers.js'
import { NoLostSignalDriver } from './no-lost-signal-driver.js'
import { PollingDriver } from './polling-driver.js'
import { ReentrantDriver, SharedSession } from './reentrant-driver.js'
import { ReleaseIgnoresOwnerDriver } from './release-ignores-owner-driver.js'
import { RenewAlwaysSucceedsDriver } from './renew-always-succeeds-driver.js'

/** A deliberately broken driver and the named kit checks that must catch it. */
export interface BrokenDriverCase {
  readonly label: string
  /** Kit options for a fresh store; every driver from the factory shares it. */
  options(): ConformanceOptions
  /** Names of checks that must fail for this driver (and pass for a correct MemoryDriver). */
  readonly caughtBy: readonly string[]
}

/** Kit options whose drivers all share one fresh `MemoryStore`. */
export function memoryOptions(
  name: string,
  wrap: (inner: MemoryDriver) => LockDriver = (inner) => inner,
): ConformanceOptions {
  const store = new MemoryStore()
  return {
    name,
    createDriver: () => wrap(new MemoryDriver({ store })),
    faults: {
      dropLock: async (lock) => {
        store.drop(lock.key, { owner: lock.owner })
      },
    },
  }
}

/** The broken drivers of DESIGN section 5, each wrapping a correct MemoryDriver. */
export const BROKEN_DRIVERS: readonly BrokenDriverCase[] = [
  {
    label: 'release ignores owner',
    options: () =>
      memoryOptions(
        'release-ignores-owner',
        (d) => new ReleaseIgnoresOwnerDriver(d, 'release-ignores-owner'),
      ),
    caughtBy: ["S2: stale holder's release does not free the successor's lock"],
  },
  {
    label: 'renew always succeeds',
    options: () =>
      memoryOptions(
        'renew-always-succeeds',
        (d) => new RenewAlwaysSucceedsDriver(d, 'renew-always-succeeds'),
      ),
    caughtBy: ["S2: stale holder's renew does not extend or take the successor's lock"],
  },
  {
    label: 're-entrant grant (one session shared by the drivers, as PostgreSQL/MySQL re-enter)',
    options: () => {
      const session = new SharedSession()
      return memoryOptions('reentrant', (d) => new ReentrantDriver(d, session))
    },
    caughtBy: [
      'S1: a key held through one driver is not granted through another (tryAcquire and a timed acquire)',
      'S1/S3: 4 drivers x 50 read-modify-write increments: exact count, no overlapping windows, fences increasing in grant order',
    ],
  },
  {
    label: 'fence reused',
    options: () => memoryOptions('fence-reused', (d) => new FenceReusedDriver(d, 'fence-reused')),
    caughtBy: [
      'S3: fences strictly increase across successive holders on one driver',
      'S3: fences strictly increase across holders on different drivers',
    ],
  },
  {
    label: 'no lost signal',
    options: () =>
      memoryOptions('no-lost-signal', (d) => new NoLostSignalDriver(d, 'no-lost-signal')),
    caughtBy: [
      'N2: a driver declaring lossSignal aborts lease.lost on evidence of loss (at the latest after a renew that finds it gone)',
    ],
  },
  {
    label: 'shared granted during an exclusive hold',
    options: () =>
      memoryOptions(
        'shared-beside-exclusive',
        (d) => new SharedBesideExclusiveDriver(d, 'shared-beside-exclusive'),
      ),
    caughtBy: [
      'R1: shared holders on two drivers hold the key together; an exclusive acquire on a third is refused until both release, and a shared one while it holds',
      'R1/F1: 4 drivers x 30 random shared and exclusive holds of one key: no exclusive holder beside another, fences increasing across modes',
    ],
  },
  {
    label:
      'readers pass a waiting writer (a wait that polls one-shot attempts, no writer preference)',
    options: () => memoryOptions('readers-first', (d) => new PollingDriver(d, 'readers-first')),
    caughtBy: [
      'R2: a waiting exclusive acquire is not starved by a stream of overlapping shared acquires (fewer than 12 later readers pass it)',
      'R2: fair: readers and writers waiting on four drivers are granted in arrival order, consecutive readers together',
    ],
  },
  {
    label: 'semaphore admitting limit + 1',
    options: () =>
      memoryOptions(
        'semaphore-over-admits',
        (d) => new SemaphoreOverAdmitsDriver(d, 'semaphore-over-admits'),
      ),
    caughtBy: [
      'M1: a limit-2 semaphore admits exactly 2 of 4 drivers racing tryAcquire, and a waiter only after a permit is released',
      'M1: 4 drivers x 30 permits of a limit-2 semaphore: never more than 2 holders, every fence new',
    ],
  },
  {
    label: 'semaphore on the lock of the same key (permits held as shared locks)',
    options: () =>
      memoryOptions('semaphore-on-lock', (d) => new SemaphoreOnLockDriver(d, 'semaphore-on-lock')),
    caughtBy: [
      'M1: a semaphore is a resource of its own: its permits and the lock of the same key never block each other',
    ],
  },
  {
    label: 'two leaders (a campaign ignores the holder)',
    options: () => memoryOptions('two-leaders', (d) => new TwoLeadersDriver(d, 'two-leaders')),
    caughtBy: [
      'E1: of 3 drivers campaigning in 4 rounds each, exactly one leads at a time (windows never overlap, fences increase)',
      'E1: 3 candidates x 12 terms campaigning at random: exactly one leader at a time, fences increasing term by term',
    ],
  },
  {
    label: 'fences reused across modes (one counter per mode)',
    options: () => {
      const counters = new Map<string, bigint>()
      return memoryOptions(
        'fence-reused-across-modes',
        (d) => new FenceReusedAcrossModesDriver(d, counters),
      )
    },
    caughtBy: [
      "F1: fences strictly increase per key across modes: exclusive, then shared holders, then exclusive, each above every earlier holder's",
      'R1/F1: 4 drivers x 30 random shared and exclusive holds of one key: no exclusive holder beside another, fences increasing across modes',
    ],
  },
  {
    label: 'lost wake-up: a release wakes only the first waiter; later ones poll slowly',
    options: () => {
      const waiting = new Map<string, number>()
      return memoryOptions('lost-wakeup', (d) => new LostWakeupDriver(d, waiting))
    },
    caughtBy: [
      "RS4: a writer's release admits every reader queued behind it, together (no one grant per release, no lost wake-up)",
      'MS5: two permits released in the same tick admit both queued waiters (no lost wake-up, no one grant per release)',
    ],
  },
  {
    label: 'a semaphore keeps its first limit for ever',
    options: () => {
      const limits = new Map<string, number>()
      return memoryOptions('limit-never-reset', (d) => new LimitNeverResetDriver(d, limits))
    },
    caughtBy: ['MS7: once every holder released, the semaphore may be used with another limit'],
  },
  {
    label: 'polling wait declared as nativeWait',
    options: () => memoryOptions('polling', (d) => new PollingDriver(d, 'polling')),
    caughtBy: ['L4: a waiter learns of a release by push: median handoff under 50 ms (5 samples)'],
  },
]
