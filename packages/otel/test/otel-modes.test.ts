import { isLockError } from '@baton-lock/core'
import { context, trace } from '@opentelemetry/api'
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  ATTR_BACKEND,
  ATTR_CONTENDED,
  ATTR_ERROR_TYPE,
  ATTR_FENCE,
  ATTR_KEY,
  ATTR_KEY_COUNT,
  ATTR_MODE,
  ATTR_OPERATION,
  ATTR_OUTCOME,
  ATTR_SEMAPHORE_LIMIT,
  ATTR_STATE,
  METRIC_ACQUIRE_DURATION,
  METRIC_CONTENTIONS,
  METRIC_HELD,
  METRIC_HOLD_DURATION,
  METRIC_LOSSES,
  SPAN_ACQUIRE,
  SPAN_ACQUIRE_ALL,
  SPAN_HOLD,
} from '../src/index.js'
import { instrumentedLocker, Sdk } from './sdk.js'

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
const spanId = (span: ReadableSpan | undefined) => span?.spanContext().spanId

describe('modes on spans', () => {
  it('a shared acquire: acquire and hold spans say mode shared; the default is exclusive', async () => {
    const { locker } = instrumentedLocker(sdk)
    await (await locker.acquire('r', { mode: 'shared' })).release()
    await (await locker.acquire('w')).release()
    expect(await locker.tryAcquire('t', { mode: 'shared' })).not.toBeNull()
    const acquires = sdk.finished(SPAN_ACQUIRE).map((s) => s.attributes[ATTR_MODE])
    expect(acquires).toEqual(['shared', 'exclusive', 'shared'])
    const holds = sdk.finished(SPAN_HOLD).map((s) => s.attributes[ATTR_MODE])
    expect(holds).toEqual(['shared', 'exclusive'])
    await locker.close()
    expect(sdk.finished(SPAN_HOLD).at(-1)?.attributes[ATTR_MODE]).toBe('shared')
  })

  it('a bad mode is an error span without a mode attribute', async () => {
    const { locker } = instrumentedLocker(sdk)
    await expect(locker.acquire('k', { mode: 'upgrade' as never })).rejects.toThrow(TypeError)
    const [span] = sdk.finished(SPAN_ACQUIRE)
    expect(span?.attributes[ATTR_OUTCOME]).toBe('error')
    expect(span?.attributes[ATTR_ERROR_TYPE]).toBe('TypeError')
    expect(span?.attributes).not.toHaveProperty(ATTR_MODE)
    await locker.close()
  })

  it('a semaphore permit: acquire and hold spans carry mode semaphore and the limit', async () => {
    const { locker } = instrumentedLocker(sdk)
    const semaphore = locker.semaphore('jobs', { limit: 2 })
    const first = await semaphore.acquire({ waitMs: 1_000 })
    const second = await semaphore.tryAcquire()
    expect(await semaphore.tryAcquire()).toBeNull()
    await first.release()
    await second?.release()
    expect(await semaphore.withLock((permit) => permit.mode)).toBe('semaphore')
    const acquires = sdk.finished(SPAN_ACQUIRE)
    expect(acquires.map((s) => [s.attributes[ATTR_OPERATION], s.attributes[ATTR_OUTCOME]])).toEqual(
      [
        ['acquire', 'acquired'],
        ['try_acquire', 'acquired'],
        ['try_acquire', 'busy'],
        ['acquire', 'acquired'],
      ],
    )
    for (const span of acquires) {
      expect(span.attributes).toMatchObject({ [ATTR_MODE]: 'semaphore', [ATTR_SEMAPHORE_LIMIT]: 2 })
    }
    const holds = sdk.finished(SPAN_HOLD)
    expect(holds.length).toBeGreaterThanOrEqual(3)
    for (const span of holds) {
      expect(span.attributes).toMatchObject({
        [ATTR_MODE]: 'semaphore',
        [ATTR_SEMAPHORE_LIMIT]: 2,
        [ATTR_STATE]: 'released',
      })
    }
    await locker.close()
  })

  it("without a context manager the permit's hold span still gets the limit", async () => {
    stopContext()
    const { locker } = instrumentedLocker(sdk)
    await (await locker.semaphore('jobs', { limit: 4 }).acquire()).release()
    const [hold] = sdk.finished(SPAN_HOLD)
    expect(hold?.attributes).toMatchObject({ [ATTR_MODE]: 'semaphore', [ATTR_SEMAPHORE_LIMIT]: 4 })
    expect(hold?.links).toHaveLength(0)
    await locker.close()
  })

  it('a campaign gets an acquire span and a hold span; asking again while leading adds none', async () => {
    const { locker } = instrumentedLocker(sdk, { recordKeys: true })
    const election = locker.election('leader', { value: 'node-1' })
    const caller = sdk.tracerProvider.getTracer('app').startSpan('boot')
    const leadership = await context.with(trace.setSpan(context.active(), caller), () =>
      election.campaign(),
    )
    caller.end()
    expect(await election.campaign()).toBe(leadership)
    await election.resign()
    const acquires = sdk.finished(SPAN_ACQUIRE)
    expect(acquires).toHaveLength(1)
    expect(acquires[0]?.attributes).toMatchObject({
      [ATTR_OPERATION]: 'campaign',
      [ATTR_MODE]: 'exclusive',
      [ATTR_OUTCOME]: 'acquired',
      [ATTR_KEY]: 'leader',
      [ATTR_FENCE]: leadership.fence.toString(),
    })
    expect(acquires[0]?.parentSpanContext?.spanId).toBe(caller.spanContext().spanId)
    const [hold] = sdk.finished(SPAN_HOLD)
    expect(hold?.attributes).toMatchObject({ [ATTR_MODE]: 'exclusive', [ATTR_STATE]: 'released' })
    expect(hold?.links[0]?.context.spanId).toBe(spanId(acquires[0]))
    // elect() and lead() go through campaign(); a resigned wait is aborted
    await locker.elect('leader', (lead) => lead.fence)
    const rival = locker.election('leader')
    const held = await locker.acquire('leader')
    const waiting = rival.campaign()
    await rival.resign()
    await expect(waiting).rejects.toSatisfy((e) => isLockError(e, 'LOCK_ABORTED'))
    await held.release()
    const campaigns = sdk
      .finished(SPAN_ACQUIRE)
      .filter((s) => s.attributes[ATTR_OPERATION] === 'campaign')
      .map((s) => s.attributes[ATTR_OUTCOME])
    expect(campaigns).toEqual(['acquired', 'acquired', 'aborted'])
    await locker.close()
  })
})

describe('acquireAll', () => {
  it('one acquire_all span with a child acquire span per key; holds link to them', async () => {
    let onContended: () => void = () => undefined
    const contended = new Promise<void>((resolve) => {
      onContended = resolve
    })
    const { locker } = instrumentedLocker(sdk, {
      recordKeys: true,
      onEvent: (e) => {
        if (e.type === 'contended') onContended()
      },
    })
    const busy = await locker.acquire('b')
    const caller = sdk.tracerProvider.getTracer('app').startSpan('batch')
    const taking = context.with(trace.setSpan(context.active(), caller), () =>
      locker.acquireAll(['c', 'b', 'a'], { mode: 'shared', waitMs: 10_000 }),
    )
    await contended
    await busy.release()
    const set = await taking
    await set.release()
    caller.end()
    const [all] = sdk.finished(SPAN_ACQUIRE_ALL)
    expect(sdk.finished(SPAN_ACQUIRE_ALL)).toHaveLength(1)
    expect(all?.attributes).toMatchObject({
      [ATTR_OPERATION]: 'acquire_all',
      [ATTR_MODE]: 'shared',
      [ATTR_KEY_COUNT]: 3,
      [ATTR_OUTCOME]: 'acquired',
      [ATTR_CONTENDED]: true,
    })
    expect(all?.attributes).not.toHaveProperty(ATTR_KEY)
    expect(all?.parentSpanContext?.spanId).toBe(caller.spanContext().spanId)
    const children = sdk
      .finished(SPAN_ACQUIRE)
      .filter((s) => s.parentSpanContext?.spanId === spanId(all))
    expect(children.map((s) => [s.attributes[ATTR_KEY], s.attributes[ATTR_CONTENDED]])).toEqual([
      ['a', false],
      ['b', true],
      ['c', false],
    ])
    for (const child of children) {
      expect(child.attributes).toMatchObject({ [ATTR_MODE]: 'shared', [ATTR_OUTCOME]: 'acquired' })
    }
    const holds = sdk.finished(SPAN_HOLD).filter((s) => s.attributes[ATTR_MODE] === 'shared')
    expect(holds).toHaveLength(3)
    for (const hold of holds) {
      expect(hold.parentSpanContext?.spanId).toBe(caller.spanContext().spanId)
      const child = children.find((c) => spanId(c) === hold.links[0]?.context.spanId)
      expect(child?.attributes[ATTR_KEY]).toBe(hold.attributes[ATTR_KEY])
    }
    await locker.close()
  })

  it('a key that times out ends its child span and the set span as timeout', async () => {
    const { locker, telemetry } = instrumentedLocker(sdk, { recordKeys: true })
    const busy = await locker.acquire('b')
    await expect(locker.withAll(['a', 'b'], () => undefined, { waitMs: 30 })).rejects.toSatisfy(
      (e) => isLockError(e, 'LOCK_TIMEOUT'),
    )
    const [all] = sdk.finished(SPAN_ACQUIRE_ALL)
    expect(all?.attributes).toMatchObject({
      [ATTR_OUTCOME]: 'timeout',
      [ATTR_ERROR_TYPE]: 'LOCK_TIMEOUT',
      [ATTR_KEY_COUNT]: 2,
    })
    const children = sdk
      .finished(SPAN_ACQUIRE)
      .filter((s) => s.parentSpanContext?.spanId === spanId(all))
      .map((s) => [
        s.attributes[ATTR_KEY],
        s.attributes[ATTR_OUTCOME],
        s.attributes[ATTR_CONTENDED],
      ])
    expect(children).toEqual([
      ['a', 'acquired', false],
      ['b', 'timeout', true],
    ])
    await busy.release()
    expect(telemetry.openHoldSpans).toBe(0)
    await locker.close()
  })
})

describe('modes on metrics', () => {
  it('acquire waits, held locks, holds, contentions and losses carry the mode', async () => {
    const { locker, store } = instrumentedLocker(sdk)
    const exclusive = await locker.acquire('x')
    const shared = await locker.acquire('y', { mode: 'shared' })
    const semaphore = locker.semaphore('z', { limit: 1 })
    const permit = await semaphore.acquire()
    expect(await semaphore.tryAcquire()).toBeNull()
    const mode = (m: string) => ({ ...memory, [ATTR_MODE]: m })
    for (const m of ['exclusive', 'shared', 'semaphore']) {
      expect(await sdk.sum(METRIC_HELD, mode(m))).toBe(1)
    }
    expect(await sdk.sum(METRIC_CONTENTIONS, mode('semaphore'))).toBe(1)
    expect(await sdk.sum(METRIC_CONTENTIONS, mode('exclusive'))).toBe(0)
    expect(store.drop('z', { mode: 'semaphore' })).toBe(true)
    expect(permit.state).toBe('lost')
    await exclusive.release()
    await shared.release()
    expect(await sdk.sum(METRIC_LOSSES, mode('semaphore'))).toBe(1)
    const acquired = (m: string) =>
      sdk.histogramCount(METRIC_ACQUIRE_DURATION, { ...mode(m), [ATTR_OUTCOME]: 'acquired' })
    expect([
      await acquired('exclusive'),
      await acquired('shared'),
      await acquired('semaphore'),
    ]).toEqual([1, 1, 1])
    expect(
      await sdk.histogramCount(METRIC_ACQUIRE_DURATION, {
        ...mode('semaphore'),
        [ATTR_OUTCOME]: 'busy',
      }),
    ).toBe(1)
    const held = (m: string, state: string) =>
      sdk.histogramCount(METRIC_HOLD_DURATION, { ...mode(m), [ATTR_STATE]: state })
    expect(await held('exclusive', 'released')).toBe(1)
    expect(await held('shared', 'released')).toBe(1)
    expect(await held('semaphore', 'lost')).toBe(1)
    for (const m of ['exclusive', 'shared', 'semaphore']) {
      expect(await sdk.sum(METRIC_HELD, mode(m))).toBe(0)
    }
    // Bounded: every point names one of the three modes, never a key or limit.
    for (const name of [METRIC_ACQUIRE_DURATION, METRIC_HELD, METRIC_HOLD_DURATION]) {
      for (const point of await sdk.points(name)) {
        expect(['exclusive', 'shared', 'semaphore']).toContain(point.attributes[ATTR_MODE])
        expect(Object.keys(point.attributes).sort()).not.toContain(ATTR_SEMAPHORE_LIMIT)
      }
    }
    await locker.close()
  })
})
