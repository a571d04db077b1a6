import { setTimeout as sleep } from 'node:timers/promises'
import {
  type AcquireRequest,
  type DriverLease,
  type LockDriver,
  Locker,
  MemoryDriver,
} from '@baton-lock/core'
import { describe, expect, test } from 'vitest'
import type { Deployment } from '../src/harness/deployment.js'
import { probeS4 } from '../src/harness/probes.js'
import { checkS4 } from '../src/index.js'

// Issue #19: the S4 probe counted the holder's release round trip and the checker's first
// connection (and lease grant) as time the given-up acquire kept the key. On a loaded
// machine each takes over a second with a 3-member etcd cluster, so a clean run showed an
// "S4 overrun" with nothing left behind. The probe now counts from the release's return,
// with a checker that already talked to the server, and still catches a real leftover.

const TTL_MS = 2_000

/** A deployment of MemoryDrivers sharing one store (all the probe needs of a deployment). */
type Store = MemoryDriver['store']

function deploymentOf(make: (store: Store | undefined) => MemoryDriver): Deployment {
  let store: Store | undefined
  const driver = async (): Promise<LockDriver> => {
    const made = make(store)
    store ??= made.store
    return made
  }
  return { ttlMs: TTL_MS, driver } as unknown as Deployment
}

/** A slow backend that keeps nothing: a driver's first request and every release reply take long. */
class SlowBackend extends MemoryDriver {
  #first = true

  override async acquire(req: AcquireRequest): Promise<DriverLease | null> {
    if (this.#first) {
      this.#first = false
      await sleep(1_100)
    }
    return super.acquire(req)
  }

  override async release(lease: DriverLease): Promise<boolean> {
    const released = await super.release(lease)
    await sleep(1_100)
    return released
  }
}

/**
 * A broken driver (S4 negative control): a wait that is given up answers null at once, but
 * keeps waiting on the server, and holds what it gets for 1.5 s: a phantom owner.
 */
class LeakyBackend extends MemoryDriver {
  override async acquire(req: AcquireRequest): Promise<DriverLease | null> {
    if (req.waitMs <= 0) return super.acquire(req)
    const late = super.acquire({ ...req, signal: new AbortController().signal, waitMs: 10_000 })
    const signal = req.signal
    const gaveUp = new Promise<null>((resolve) => {
      if (signal.aborted) resolve(null)
      signal.addEventListener('abort', () => resolve(null), { once: true })
    })
    const first = await Promise.race([late, gaveUp])
    if (first !== null) return first
    void late
      .then(async (lease) => {
        if (lease === null) return
        await sleep(1_500)
        await super.release(lease)
      })
      .catch(() => undefined)
    return null
  }
}

/** Worse (S4 negative control): what a given-up wait gets later is kept for a minute. */
class StuckBackend extends MemoryDriver {
  override async acquire(req: AcquireRequest): Promise<DriverLease | null> {
    if (req.waitMs <= 0) return super.acquire(req)
    void super
      .acquire({ ...req, signal: new AbortController().signal, waitMs: 10_000, ttlMs: 60_000 })
      .catch(() => undefined)
    return Promise.race([
      new Promise<null>((resolve) => req.signal.addEventListener('abort', () => resolve(null))),
      sleep(req.waitMs).then(() => null),
    ])
  }
}

describe('S4 probe', () => {
  test('a slow release reply and a slow first connection are not counted as a leftover', async () => {
    const events = await probeS4(
      deploymentOf((store) => new SlowBackend(store ? { store } : {})),
      'faults/s4-slow',
    )
    expect(events.map((e) => e.kind)).toEqual(['timeout', 'abort'])
    for (const e of events) {
      expect(e.releaseMs).toBeGreaterThanOrEqual(1_000)
      expect(e.attempts).toBe(1)
    }
    expect(checkS4(events)).toEqual([])
  }, 30_000)

  test('a phantom owner left by a given-up acquire is flagged (negative control)', async () => {
    const events = await probeS4(
      deploymentOf((store) => new LeakyBackend(store ? { store } : {})),
      'faults/s4-leaky',
    )
    const violations = checkS4(events)
    expect(violations.length).toBeGreaterThan(0)
    expect(violations[0]?.message).toMatch(/tryAcquire calls/)
    expect(events.some((e) => (e.attempts ?? 0) > 1)).toBe(true)
  }, 30_000)

  test('a key that stays taken is reported with what each driver and each member says of it', async () => {
    const asked: string[] = []
    const d = deploymentOf((store) => new StuckBackend(store ? { store } : {}))
    d.memberViews = async (key) => {
      asked.push(key)
      return 'm1 (leader, zxid 0x1): held; m2 (follower, zxid 0x1): free'
    }
    const events = await probeS4(d, 'faults/s4-stuck')
    expect(events.map((e) => e.freeAt)).toEqual([null, null])
    expect(asked).toEqual(['faults/s4-stuck', 'faults/s4-stuck'])
    expect(events[0]?.blocker).toMatch(/^holder: .*; waiter: .*; checker: .*"held":true/)
    expect(events[0]?.blocker).toMatch(/; members: m1 \(leader, zxid 0x1\): held; m2/)
    expect(checkS4(events).map((v) => v.message)).toEqual([
      expect.stringMatching(/never free again after a timed-out acquire.*members: m1/),
      expect.stringMatching(/never free again after a aborted acquire/),
    ])
  }, 60_000)

  test('a key the run left taken is reported, with its blocker, instead of ending the probe', async () => {
    const d = deploymentOf((store) => new MemoryDriver(store ? { store } : {}))
    const leftover = new Locker(await d.driver(), { ttlMs: TTL_MS })
    await leftover.acquire('faults/s4-left')
    d.memberViews = async () => 'm1 (leader, zxid 0x1): held'
    const events = await probeS4(d, 'faults/s4-left')
    expect(events.map((e) => [e.kind, e.takenBeforeMs, e.freeAt])).toEqual([
      ['timeout', 10_000, null],
      ['abort', 10_000, null],
    ])
    const violations = checkS4(events)
    expect(violations.map((v) => v.message)).toEqual([
      expect.stringMatching(
        /never free for the S4 probe: its holder waited 10000 ms in vain.*members: m1/,
      ),
      expect.stringMatching(/never free for the S4 probe/),
    ])
    await leftover.close()
  }, 60_000)
})
