import type { LockDriver } from '../../driver.js'
import { isLockError } from '../../errors.js'
import type { Locker } from '../../locker.js'
import type { ConformanceCheck } from '../check.js'
import type { CheckContext } from '../check-context.js'
import { describeError, ensure, rejectionOf } from '../conformance-failure.js'
import { tryOnce } from './support.js'

/**
 * Holds each key in turn on one driver and checks from another that exactly that key is
 * taken: the keys are distinct locks, and each one excludes.
 */
async function expectDistinctLocks(
  ctx: CheckContext,
  keys: readonly string[],
  options: { namespace?: string } = {},
): Promise<void> {
  const [da, db] = await ctx.drivers(2)
  const a = await ctx.locker(options, da)
  const b = await ctx.locker(options, db)
  for (const key of keys) {
    const held = await a.acquire(key, { waitMs: ctx.timing.slackMs })
    for (const other of keys) {
      const got = await tryOnce(b, other)
      if (got !== null) await got.release()
      if (other === key)
        ensure(got === null, `${label(key)} was granted to a second driver while held`)
      else
        ensure(
          got !== null,
          `${label(other)} is blocked while only ${label(key)} is held: the driver maps them to one lock`,
        )
    }
    ensure(held.isValid(), `the holder of ${label(key)} lost validity`)
    await held.release()
  }
}

function label(key: string): string {
  const shown = JSON.stringify(key)
  return shown.length > 60
    ? `key ${shown.slice(0, 28)}...${shown.slice(-28)} (${Buffer.byteLength(key)} bytes)`
    : `key ${shown}`
}

/** Pads `prefix` with a mix of 1-4 byte characters to exactly `bytes` UTF-8 bytes. */
function keyOfBytes(prefix: string, bytes: number, last: string): string {
  let key = prefix
  const pieces = ['é', '鍵', '🔒', 'a']
  for (let i = 0; Buffer.byteLength(key) + 4 + Buffer.byteLength(last) <= bytes; i++)
    key += pieces[i % 4]
  while (Buffer.byteLength(key) + Buffer.byteLength(last) < bytes) key += 'x'
  return key + last
}

/** A driver that counts every call, to prove invalid keys never reach the backend. */
function countingDriver(inner: LockDriver): { driver: LockDriver; calls: () => number } {
  let calls = 0
  const count = <T>(fn: () => T): T => {
    calls++
    return fn()
  }
  const driver: LockDriver = {
    name: inner.name,
    capabilities: inner.capabilities,
    acquire: (req) => count(() => inner.acquire(req)),
    renew: (lease, ttlMs) => count(() => inner.renew(lease, ttlMs)),
    release: (lease) => count(() => inner.release(lease)),
    close: () => inner.close(),
    ...(inner.inspect
      ? { inspect: (key: string) => count(() => inner.inspect?.(key) ?? Promise.resolve(null)) }
      : {}),
  }
  return { driver, calls: () => calls }
}

async function expectArgumentError(what: string, call: () => Promise<unknown>): Promise<void> {
  let promise: Promise<unknown>
  try {
    promise = call()
  } catch (err) {
    promise = Promise.reject(err)
  }
  const err = await rejectionOf(promise, what)
  ensure(
    (err instanceof TypeError || err instanceof RangeError) && !isLockError(err),
    () => `${what} should fail with a TypeError or RangeError, got ${describeError(err)}`,
  )
}

/** H3: keys are case-sensitive Unicode strings of 1 to 1024 UTF-8 bytes, mapped without collisions. */
export const keyChecks: readonly ConformanceCheck[] = [
  {
    group: 'keys',
    id: 'H3',
    name: 'H3: Unicode and emoji keys lock, exclude and release like any other',
    async run(ctx) {
      const base = ctx.key()
      await expectDistinctLocks(ctx, [
        `${base}-ключ`,
        `${base}-鍵`,
        `${base}-🔒🗝️`,
        // Precomposed and decomposed é: the same text to a reader, two keys to the contract.
        `${base}-\u00e9`,
        `${base}-e\u0301`,
      ])
    },
  },
  {
    group: 'keys',
    id: 'H3b',
    name: 'H3: keys of the full length (1024 UTF-8 bytes, or maxKeyBytes) work and differ by their last character',
    async run(ctx) {
      const bytes = Math.min(1024, ctx.caps.maxKeyBytes)
      // No Locker namespace here: the driver sees exactly `bytes` bytes, prefixed by the run's namespace.
      const prefix = `${ctx.nsKey(ctx.key())}:`
      const keys = [
        keyOfBytes(prefix, bytes, '1'),
        keyOfBytes(prefix, bytes, '2'),
        keyOfBytes(prefix, bytes, '🔒'),
      ]
      for (const k of keys)
        ensure(Buffer.byteLength(k) === bytes, `internal: key of ${Buffer.byteLength(k)} bytes`)
      await expectDistinctLocks(ctx, keys, { namespace: '' })
    },
  },
  {
    group: 'keys',
    id: 'H3c',
    name: 'H3: keys that differ only in case are distinct locks',
    async run(ctx) {
      const base = ctx.key()
      await expectDistinctLocks(ctx, [
        `${base}-Invoice`,
        `${base}-invoice`,
        `${base}-INVOICE`,
        `${base}-Ä`,
        `${base}-ä`,
      ])
    },
  },
  {
    group: 'keys',
    id: 'H3d',
    name: 'H3: keys equal in their first 64 characters are distinct locks',
    async run(ctx) {
      const base = ctx.key()
      const head = `${base}-`.padEnd(64, 'a')
      await expectDistinctLocks(ctx, [`${head}1`, `${head}2`, `${head}-longer-tail-3`, head])
    },
  },
  {
    group: 'keys',
    id: 'H3e',
    name: 'H3: slashes, colons, braces and NUL are plain key characters',
    async run(ctx) {
      const b = ctx.key()
      await expectDistinctLocks(ctx, [
        `${b}/x`,
        `${b}_x`,
        `${b}:x`,
        `${b}::x`,
        `${b}{x}`,
        `${b}{x}y`,
        `${b}\u0000x`,
        `${b}\u0000`,
        b,
        `${b}\\x`,
        `${b}%2Fx`,
      ])
    },
  },
  {
    group: 'keys',
    id: 'H3f',
    name: 'H3: invalid keys (empty, 1025 bytes, non-string) are rejected with TypeError/RangeError before the driver is called',
    async run(ctx) {
      const { driver, calls } = countingDriver(await ctx.driver())
      const locker: Locker = await ctx.locker({ namespace: '' }, driver)
      const invalid: Array<[string, unknown]> = [
        ['an empty key', ''],
        ['a key of 1025 ASCII bytes', 'k'.repeat(1025)],
        ['a key of 513 two-byte characters (1026 bytes)', 'é'.repeat(513)],
        ['a number', 42],
        ['undefined', undefined],
        ['null', null],
      ]
      for (const [what, key] of invalid) {
        const k = key as string
        await expectArgumentError(`acquire(${what})`, () => locker.acquire(k, { waitMs: 0 }))
        await expectArgumentError(`tryAcquire(${what})`, () => locker.tryAcquire(k))
        await expectArgumentError(`withLock(${what})`, () => locker.withLock(k, () => undefined))
        if (ctx.caps.inspect) await expectArgumentError(`inspect(${what})`, () => locker.inspect(k))
      }
      ensure(calls() === 0, `the driver was called ${calls()} times for invalid keys`)
      const fine = await tryOnce(locker, `${ctx.nsKey(ctx.key())}-valid`)
      ensure(
        fine !== null && calls() > 0,
        'a valid key after the invalid ones did not reach the driver',
      )
      await fine.release()
    },
  },
]
