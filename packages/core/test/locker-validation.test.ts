import { afterAll, describe, expect, it } from 'vitest'
import { defineCapabilities } from '../src/driver-kit/index.js'
import { Locker, MemoryDriver } from '../src/index.js'
import { ScriptedDriver } from './scripted-driver.js'

describe('argument validation, before any backend call', () => {
  const driver = new ScriptedDriver()
  const locker = new Locker(driver, { closeDriver: false })
  afterAll(() => locker.close())
  const bad: Array<[string, () => Promise<unknown>, ErrorConstructor, RegExp]> = [
    ['non-string key', () => locker.acquire(42 as unknown as string), TypeError, /string, got 42/],
    ['empty key', () => locker.acquire(''), RangeError, /1 to 1024 UTF-8 bytes, got 0 bytes/],
    ['1025-byte key', () => locker.acquire('x'.repeat(1025)), RangeError, /got 1025 bytes/],
    [
      '1026-byte multibyte key',
      () => locker.tryAcquire('€'.repeat(342)),
      RangeError,
      /got 1026 bytes/,
    ],
    ['lone high surrogate', () => locker.acquire('a\uD800b'), TypeError, /lone surrogate/],
    ['lone low surrogate', () => locker.tryAcquire('\uDC00'), TypeError, /lone surrogate/],
    [
      'negative attemptTimeoutMs',
      async () => new Locker(driver, { attemptTimeoutMs: -1 }),
      RangeError,
      /attemptTimeoutMs .* got -1/,
    ],
    ['zero ttlMs', () => locker.acquire('k', { ttlMs: 0 }), RangeError, /ttlMs .* got 0/],
    ['fractional ttlMs', () => locker.acquire('k', { ttlMs: 1.5 }), RangeError, /got 1.5/],
    ['NaN ttlMs', () => locker.acquire('k', { ttlMs: Number.NaN }), RangeError, /got NaN/],
    [
      'infinite ttlMs',
      () => locker.acquire('k', { ttlMs: Number.POSITIVE_INFINITY }),
      RangeError,
      /Infinity/,
    ],
    ['ttlMs over 24 h', () => locker.acquire('k', { ttlMs: 86_400_001 }), RangeError, /86400001/],
    [
      'string ttlMs',
      () => locker.acquire('k', { ttlMs: '10' as unknown as number }),
      TypeError,
      /"10"/,
    ],
    ['negative waitMs', () => locker.acquire('k', { waitMs: -1 }), RangeError, /waitMs .* got -1/],
    ['fractional waitMs', () => locker.acquire('k', { waitMs: 0.5 }), RangeError, /got 0.5/],
    ['NaN waitMs', () => locker.acquire('k', { waitMs: Number.NaN }), RangeError, /got NaN/],
    [
      'non-string inspect key',
      () => locker.inspect(null as unknown as string),
      TypeError,
      /got null/,
    ],
  ]
  it.each(bad)('rejects %s', async (_name, call, type, message) => {
    const err = await call().catch((e: unknown) => e)
    expect(err).toBeInstanceOf(type)
    expect((err as Error).message).toMatch(message)
    expect(driver.acquires).toHaveLength(0)
  })

  it('accepts the bounds: 1024-byte keys, 24 h TTL, waitMs Infinity', async () => {
    const a = await locker.acquire(`${'€'.repeat(341)}x`, {
      ttlMs: 86_400_000,
      waitMs: Number.POSITIVE_INFINITY,
    })
    expect(driver.acquires[0]?.ttlMs).toBe(86_400_000)
    await a.release()
  })

  it('rejects a namespaced key over the driver maxKeyBytes, naming both', async () => {
    const ns = new Locker(new MemoryDriver(), { namespace: 'ns' })
    await expect(ns.acquire('x'.repeat(1024))).rejects.toThrow(/1027 UTF-8 bytes.*at most 1024/)
    await ns.close()
  })

  it('rejects a TTL below the driver resolution', async () => {
    const coarse = new ScriptedDriver()
    Object.assign(coarse, {
      capabilities: defineCapabilities({ ...coarse.capabilities, ttlResolutionMs: 1_000 }),
    })
    const l = new Locker(coarse, { ttlMs: 5_000 })
    await expect(l.acquire('k', { ttlMs: 999 })).rejects.toThrow(
      /from 1000 to 86400000 ms, got 999/,
    )
    expect(() => new Locker(coarse, { ttlMs: 500 })).toThrow(RangeError)
    await l.close()
  })

  it('rejects bad Locker options', () => {
    expect(() => new Locker(new MemoryDriver(), { namespace: 1 as unknown as string })).toThrow(
      TypeError,
    )
    expect(() => new Locker(new MemoryDriver(), { waitMs: -5 })).toThrow(RangeError)
    expect(() => new Locker(new MemoryDriver(), { ttlMs: 0 })).toThrow(RangeError)
  })
})

describe('well-formed Unicode keys', () => {
  it('accepts a surrogate pair (emoji) and keeps it distinct from U+FFFD', async () => {
    await using locker = new Locker(new MemoryDriver())
    const emoji = await locker.tryAcquire('lock-\u{1F512}')
    const replacement = await locker.tryAcquire('lock-\uFFFD')
    expect(emoji).not.toBeNull()
    expect(replacement).not.toBeNull()
  })
})
