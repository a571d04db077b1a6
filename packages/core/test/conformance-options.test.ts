import { describe, expect, it } from 'vitest'
import type { ConformanceOptions } from '../src/conformance/index.js'
import { runChecks } from '../src/conformance/index.js'
import { defineCapabilities, MemoryStore } from '../src/driver-kit/index.js'
import { type AcquireRequest, type LockDriver, MemoryDriver } from '../src/index.js'

/** MemoryDriver factory that records every key a driver is asked for. */
function recording(): { options: ConformanceOptions; keys: string[]; created: () => number } {
  const store = new MemoryStore()
  const keys: string[] = []
  let created = 0
  const createDriver = (): LockDriver => {
    created++
    const driver = new MemoryDriver({ store })
    const acquire = driver.acquire.bind(driver)
    driver.acquire = (req: AcquireRequest) => {
      keys.push(req.key)
      return acquire(req)
    }
    return driver
  }
  return { options: { name: 'memory', createDriver }, keys, created: () => created }
}

const ONE_CHECK =
  'S1: a key held through one driver is not granted through another (tryAcquire and a timed acquire)'

describe('runChecks options', () => {
  it('namespaces every key under `<prefix>-<8 hex>:` (default prefix kit)', async () => {
    const plain = recording()
    await runChecks(plain.options, { filter: (c) => c.name === ONE_CHECK })
    expect(plain.keys.length).toBeGreaterThan(0)
    for (const key of plain.keys) expect(key).toMatch(/^kit-[0-9a-f]{8}:/)

    const named = recording()
    const results = await runChecks(
      { ...named.options, namespacePrefix: 'baton-conformance' },
      { filter: (c) => c.name === ONE_CHECK },
    )
    expect(results.map((r) => r.status)).toEqual(['passed'])
    for (const key of named.keys) expect(key).toMatch(/^baton-conformance-[0-9a-f]{8}:/)
  })

  it('calls createDriver for a probe and for every driver a check uses', async () => {
    const r = recording()
    await runChecks(r.options, { filter: (c) => c.name === ONE_CHECK })
    expect(r.created()).toBe(1 + 2)
  })

  it('rejects bad options with a TypeError naming the field', async () => {
    const good = recording().options
    const bad: Array<[string, unknown]> = [
      ['options.name', { ...good, name: '' }],
      ['options.createDriver', { ...good, createDriver: 'redis://' }],
      ['options.faults.dropLock', { ...good, faults: { dropLock: true } }],
      ['options.namespacePrefix', { ...good, namespacePrefix: 'has space' }],
    ]
    for (const [field, options] of bad) {
      await expect(runChecks(options as ConformanceOptions)).rejects.toThrow(
        expect.objectContaining({ name: 'TypeError', message: expect.stringContaining(field) }),
      )
    }
  })
})

describe('capabilities decide what runs', () => {
  it("expiry 'session' skips L1 always and the S2 stale-holder checks without dropLock, with reasons", async () => {
    const store = new MemoryStore()
    const sessionLike = (): LockDriver => {
      const driver = new MemoryDriver({ store })
      Object.defineProperty(driver, 'capabilities', {
        value: defineCapabilities({ ...driver.capabilities, expiry: 'session' }),
      })
      return driver
    }
    const groups = new Set(['release and ownership', 'expiry'])
    const results = await runChecks(
      { name: 'session-like', createDriver: sessionLike },
      { filter: (c) => groups.has(c.group) },
    )
    const byName = (prefix: string) => results.filter((r) => r.name.startsWith(prefix))
    for (const r of byName('L1:')) expect(r.reason).toMatch(/expiry is 'session'/)
    const stale = byName('S2:')
    expect(stale).toHaveLength(3)
    for (const r of stale) {
      expect(r.status).toBe('skipped')
      expect(r.reason).toMatch(/no faults.dropLock/)
    }
    for (const r of byName('N1:').concat(byName('S7:'))) expect(r.status).toBe('passed')

    const withDrop = await runChecks(
      {
        name: 'session-like',
        createDriver: sessionLike,
        faults: { dropLock: async (lock) => void store.drop(lock.key, { owner: lock.owner }) },
      },
      { filter: (c) => c.group === 'release and ownership' && c.name.startsWith('S2:') },
    )
    expect(withDrop.map((r) => r.status)).toEqual(['passed', 'passed', 'passed'])
  })
})
