import { isLockError, Locker, MemoryDriver } from '@baton-lock/core'
import { context, SpanStatusCode, trace } from '@opentelemetry/api'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  ATTR_BACKEND,
  ATTR_CONTENDED,
  ATTR_ERROR_TYPE,
  ATTR_FENCE,
  ATTR_KEY,
  ATTR_KEY_SHA256,
  ATTR_LOST_REASON,
  ATTR_OPERATION,
  ATTR_OUTCOME,
  ATTR_STATE,
  keySha256,
  LockTelemetry,
  SPAN_ACQUIRE,
  SPAN_HOLD,
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

describe('acquire and hold spans', () => {
  it('a grant: one acquire span and one hold span, both children of the caller span', async () => {
    const { locker } = instrumentedLocker(sdk)
    const caller = sdk.tracerProvider.getTracer('app').startSpan('request')
    const fence = await context.with(trace.setSpan(context.active(), caller), async () => {
      const lock = await locker.acquire('orders/42')
      await lock.release()
      return lock.fence
    })
    caller.end()
    const [acquire] = sdk.finished(SPAN_ACQUIRE)
    const [hold] = sdk.finished(SPAN_HOLD)
    expect(sdk.finished(SPAN_ACQUIRE)).toHaveLength(1)
    expect(sdk.finished(SPAN_HOLD)).toHaveLength(1)
    const callerId = caller.spanContext().spanId
    expect(acquire?.parentSpanContext?.spanId).toBe(callerId)
    expect(hold?.parentSpanContext?.spanId).toBe(callerId)
    expect(hold?.spanContext().traceId).toBe(caller.spanContext().traceId)
    expect(hold?.links[0]?.context.spanId).toBe(acquire?.spanContext().spanId)
    expect(acquire?.attributes).toMatchObject({
      [ATTR_BACKEND]: 'memory',
      [ATTR_OPERATION]: 'acquire',
      [ATTR_OUTCOME]: 'acquired',
      [ATTR_CONTENDED]: false,
      [ATTR_FENCE]: fence.toString(),
    })
    expect(hold?.attributes).toMatchObject({
      [ATTR_BACKEND]: 'memory',
      [ATTR_FENCE]: fence.toString(),
      [ATTR_STATE]: 'released',
    })
    expect(acquire?.status.code).toBe(SpanStatusCode.UNSET)
    await locker.close()
  })

  it('a contended acquire is marked contended and waits for the release', async () => {
    const { locker } = instrumentedLocker(sdk)
    const first = await locker.acquire('k')
    const second = locker.acquire('k', { waitMs: 10_000 })
    await until(() => sdk.finished(SPAN_ACQUIRE).length === 1, 5_000, 'the first acquire span')
    await first.release()
    const lock = await second
    await lock.release()
    const spans = sdk.finished(SPAN_ACQUIRE)
    expect(spans.map((s) => s.attributes[ATTR_CONTENDED])).toEqual([false, true])
    expect(spans[1]?.attributes[ATTR_OUTCOME]).toBe('acquired')
    expect(sdk.finished(SPAN_HOLD).map((s) => s.attributes[ATTR_STATE])).toEqual([
      'released',
      'released',
    ])
    await locker.close()
  })

  it('a timeout and a busy tryAcquire are outcomes, not errors', async () => {
    const { locker } = instrumentedLocker(sdk)
    const held = await locker.acquire('k')
    await expect(locker.acquire('k', { waitMs: 30 })).rejects.toSatisfy((e) =>
      isLockError(e, 'LOCK_TIMEOUT'),
    )
    expect(await locker.tryAcquire('k')).toBeNull()
    const [, timeout, busy] = sdk.finished(SPAN_ACQUIRE)
    expect(timeout?.attributes).toMatchObject({
      [ATTR_OUTCOME]: 'timeout',
      [ATTR_CONTENDED]: true,
      [ATTR_ERROR_TYPE]: 'LOCK_TIMEOUT',
    })
    expect(timeout?.status.code).toBe(SpanStatusCode.UNSET)
    expect(busy?.attributes).toMatchObject({
      [ATTR_OUTCOME]: 'busy',
      [ATTR_OPERATION]: 'try_acquire',
      [ATTR_CONTENDED]: true,
    })
    await held.release()
    await locker.close()
  })

  it('an aborted wait ends its span with outcome aborted', async () => {
    const { locker } = instrumentedLocker(sdk)
    const held = await locker.acquire('k')
    const controller = new AbortController()
    const waiting = locker.acquire('k', { waitMs: 10_000, signal: controller.signal })
    controller.abort(new Error('caller gave up'))
    await expect(waiting).rejects.toSatisfy((e) => isLockError(e, 'LOCK_ABORTED'))
    const aborted = sdk.finished(SPAN_ACQUIRE)[1]
    expect(aborted?.attributes).toMatchObject({
      [ATTR_OUTCOME]: 'aborted',
      [ATTR_CONTENDED]: true,
      [ATTR_ERROR_TYPE]: 'LOCK_ABORTED',
    })
    await held.release()
    await locker.close()
  })

  it('an acquire that fails is an error span with the code and no message', async () => {
    const { locker } = instrumentedLocker(sdk, { recordKeys: false })
    await locker.close()
    await expect(locker.acquire('secret-key')).rejects.toSatisfy((e) =>
      isLockError(e, 'LOCK_CLOSED'),
    )
    const [span] = sdk.finished(SPAN_ACQUIRE)
    expect(span?.attributes[ATTR_OUTCOME]).toBe('error')
    expect(span?.attributes[ATTR_ERROR_TYPE]).toBe('LOCK_CLOSED')
    expect(span?.status).toEqual({ code: SpanStatusCode.ERROR, message: 'LOCK_CLOSED' })
    expect(JSON.stringify(span?.attributes)).not.toContain('secret-key')
  })

  it('a lock dropped by the server ends its hold span as lost, with a lost event and its reason', async () => {
    const { locker, store, telemetry } = instrumentedLocker(sdk)
    const lock = await locker.acquire('k', { ttlMs: 60_000 })
    expect(store.drop('k')).toBe(true)
    await until(() => sdk.finished(SPAN_HOLD).length === 1, 5_000, 'the hold span to end')
    const [hold] = sdk.finished(SPAN_HOLD)
    expect(lock.state).toBe('lost')
    expect(hold?.attributes).toMatchObject({ [ATTR_STATE]: 'lost', [ATTR_LOST_REASON]: 'driver' })
    expect(hold?.status.code).toBe(SpanStatusCode.ERROR)
    const lost = hold?.events.find((e) => e.name === 'lost')
    expect(lost?.attributes?.[ATTR_LOST_REASON]).toBe('driver')
    await lock.release()
    expect(sdk.finished(SPAN_HOLD)).toHaveLength(1)
    expect(telemetry.openHoldSpans).toBe(0)
    await locker.close()
  })

  it('withLock is covered through acquire, and close() ends every open hold span', async () => {
    const { locker, telemetry } = instrumentedLocker(sdk)
    expect(await locker.withLock('a', (lock) => lock.fence)).toBe(1n)
    await locker.acquire('b')
    expect(telemetry.openHoldSpans).toBe(1)
    await locker.close()
    expect(telemetry.openHoldSpans).toBe(0)
    expect(sdk.finished(SPAN_HOLD)).toHaveLength(2)
  })
})

describe('without a context manager', () => {
  it('still makes both spans; contended is left out, as core events cannot be matched to the acquire', async () => {
    stopContext()
    const { locker } = instrumentedLocker(sdk)
    const held = await locker.acquire('k')
    expect(await locker.tryAcquire('k')).toBeNull()
    await held.release()
    const spans = sdk.finished(SPAN_ACQUIRE)
    expect(spans.map((s) => s.attributes[ATTR_OUTCOME])).toEqual(['acquired', 'busy'])
    expect(spans.map((s) => s.attributes[ATTR_CONTENDED])).toEqual([undefined, undefined])
    expect(sdk.finished(SPAN_HOLD)).toHaveLength(1)
    await locker.close()
  })
})

describe('recordKeys', () => {
  const keyAttributes = async (recordKeys: false | true | 'hash') => {
    const { locker } = instrumentedLocker(sdk, { recordKeys })
    await (await locker.acquire('user:alice@example.com')).release()
    await locker.close()
    return sdk.finished().map((s) => [s.attributes[ATTR_KEY], s.attributes[ATTR_KEY_SHA256]])
  }

  it('false (the default) records no key', async () => {
    expect(await keyAttributes(false)).toEqual([
      [undefined, undefined],
      [undefined, undefined],
    ])
  })

  it('true records the key as given', async () => {
    const key = 'user:alice@example.com'
    expect(await keyAttributes(true)).toEqual([
      [key, undefined],
      [key, undefined],
    ])
  })

  it("'hash' records the SHA-256 prefix only", async () => {
    const hash = keySha256('user:alice@example.com')
    expect(hash).toMatch(/^[0-9a-f]{16}$/)
    // SHA-256("abc") from FIPS 180-2: ba7816bf8f01cfea414140de5dae2223...
    expect(keySha256('abc')).toBe('ba7816bf8f01cfea')
    expect(await keyAttributes('hash')).toEqual([
      [undefined, hash],
      [undefined, hash],
    ])
  })

  it('anything else is a TypeError', () => {
    expect(() => new LockTelemetry({ recordKeys: 'yes' as never })).toThrow(TypeError)
  })
})

describe('wiring', () => {
  it('chains another listener and refuses a second Locker or a second wrapper', async () => {
    const seen: string[] = []
    const { locker, telemetry } = instrumentedLocker(sdk, { onEvent: (e) => seen.push(e.type) })
    await (await locker.acquire('k')).release()
    expect(seen).toEqual(['acquired', 'released'])
    expect(() => telemetry.instrument(new Locker(new MemoryDriver()))).toThrow(TypeError)
    expect(() => new LockTelemetry().instrument(locker)).toThrow(TypeError)
    await locker.close()
  })
})
