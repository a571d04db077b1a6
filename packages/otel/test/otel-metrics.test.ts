import { isLockError } from '@baton-lock/core'
import type { Histogram } from '@opentelemetry/sdk-metrics'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  ATTR_BACKEND,
  ATTR_LOST_REASON,
  ATTR_OUTCOME,
  ATTR_STATE,
  HOLD_BUCKETS_S,
  METRIC_ACQUIRE_DURATION,
  METRIC_CONTENTIONS,
  METRIC_HELD,
  METRIC_HOLD_DURATION,
  METRIC_LOSSES,
  METRIC_RENEWALS,
  WAIT_BUCKETS_S,
} from '../src/index.js'
import { instrumentedLocker, Sdk, until } from './sdk.js'

let sdk: Sdk
let stopContext: () => void
beforeEach(() => {
  sdk = new Sdk()
  stopContext = Sdk.useAsyncContext()
})
afterEach(async () => {
  stopContext()
  await sdk.shutdown()
})

const memory = { [ATTR_BACKEND]: 'memory' }

describe('lock metrics', () => {
  it('acquire waits by outcome, contention, holds and the held gauge', async () => {
    const { locker } = instrumentedLocker(sdk)
    const first = await locker.acquire('k')
    expect(await sdk.sum(METRIC_HELD, memory)).toBe(1)
    await expect(locker.acquire('k', { waitMs: 20 })).rejects.toSatisfy((e) =>
      isLockError(e, 'LOCK_TIMEOUT'),
    )
    expect(await locker.tryAcquire('k')).toBeNull()
    const controller = new AbortController()
    const aborted = locker.acquire('k', { signal: controller.signal })
    controller.abort()
    await expect(aborted).rejects.toSatisfy((e) => isLockError(e, 'LOCK_ABORTED'))
    const waiting = locker.acquire('k', { waitMs: 10_000 })
    await first.release()
    await (await waiting).release()

    const count = (outcome: string) =>
      sdk.histogramCount(METRIC_ACQUIRE_DURATION, { ...memory, [ATTR_OUTCOME]: outcome })
    expect(await count('acquired')).toBe(2)
    expect(await count('timeout')).toBe(1)
    expect(await count('busy')).toBe(1)
    expect(await count('aborted')).toBe(1)
    expect(await sdk.sum(METRIC_CONTENTIONS, memory)).toBe(4)
    expect(await sdk.sum(METRIC_HELD, memory)).toBe(0)
    expect(
      await sdk.histogramCount(METRIC_HOLD_DURATION, { ...memory, [ATTR_STATE]: 'released' }),
    ).toBe(2)

    const [timeoutPoint] = await sdk.points(METRIC_ACQUIRE_DURATION, { [ATTR_OUTCOME]: 'timeout' })
    const [holdPoint] = await sdk.points(METRIC_HOLD_DURATION)
    if (timeoutPoint === undefined || holdPoint === undefined) throw new Error('no histogram point')
    const timeout = timeoutPoint.value as Histogram
    // Waited at least its 20 ms: seconds, not milliseconds.
    expect(timeout.min).toBeGreaterThanOrEqual(0.019)
    expect(timeout.max).toBeLessThan(30)
    expect(timeout.buckets.boundaries).toEqual(WAIT_BUCKETS_S.explicitBucketBoundaries)
    expect((holdPoint.value as Histogram).buckets.boundaries).toEqual(
      HOLD_BUCKETS_S.explicitBucketBoundaries,
    )
    const acquire = await sdk.metric(METRIC_ACQUIRE_DURATION)
    expect(acquire?.descriptor.unit).toBe('s')
    await locker.close()
  })

  it('a loss counts by reason and leaves the held gauge at zero', async () => {
    const { locker, store } = instrumentedLocker(sdk)
    const lock = await locker.acquire('k', { ttlMs: 60_000 })
    store.drop('k')
    await until(() => lock.state === 'lost', 5_000, 'the loss')
    expect(await sdk.sum(METRIC_LOSSES, { ...memory, [ATTR_LOST_REASON]: 'driver' })).toBe(1)
    expect(await sdk.sum(METRIC_HELD, memory)).toBe(0)
    expect(
      await sdk.histogramCount(METRIC_HOLD_DURATION, { ...memory, [ATTR_STATE]: 'lost' }),
    ).toBe(1)
    await lock.release()
    expect(await sdk.sum(METRIC_HELD, memory)).toBe(0)
    await locker.close()
  })

  it('renewals are counted; a renewal the server refuses is a loss with reason server', async () => {
    const { locker, store } = instrumentedLocker(sdk)
    const lock = await locker.acquire('k', { ttlMs: 600 })
    // Renewed at a third of the TTL: wait for two confirmations.
    const deadline = performance.now() + 5_000
    while ((await sdk.sum(METRIC_RENEWALS, memory)) < 2) {
      expect(performance.now()).toBeLessThan(deadline)
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    // Dropped without notice: only the next renewal finds out.
    store.drop('k', { notify: false })
    await until(() => lock.state === 'lost', 5_000, 'the loss at the next renewal')
    expect(await sdk.sum(METRIC_LOSSES, { ...memory, [ATTR_LOST_REASON]: 'server' })).toBe(1)
    await locker.close()
  })

  it('the backend option names the backend', async () => {
    const { locker } = instrumentedLocker(sdk, { backend: 'memory-eu' })
    await (await locker.acquire('k')).release()
    expect(await sdk.sum(METRIC_HELD, { [ATTR_BACKEND]: 'memory-eu' })).toBe(0)
    expect(await sdk.histogramCount(METRIC_ACQUIRE_DURATION, { [ATTR_BACKEND]: 'memory-eu' })).toBe(
      1,
    )
    await locker.close()
  })
})
