import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect, createDriver, DEFAULT_URL, defaultUrl, parseLockUrl } from 'baton-lock'
import { afterAll, describe, expect, it } from 'vitest'
import { parseDuration } from '../src/cli/parse-duration.js'

const dir = mkdtempSync(join(tmpdir(), 'baton-connect-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('parseLockUrl', () => {
  it('maps every scheme to its backend', () => {
    expect(parseLockUrl('memory:').scheme).toBe('memory')
    expect(parseLockUrl('sqlite:.baton/locks.db')).toMatchObject({
      scheme: 'sqlite',
      path: '.baton/locks.db',
    })
    expect(parseLockUrl('sqlite:///var/lib/x.db')).toMatchObject({ path: '/var/lib/x.db' })
    expect(parseLockUrl('sqlite:')).toMatchObject({ path: '.baton/locks.db' })
    expect(parseLockUrl('redis://h:6379').scheme).toBe('redis')
    expect(parseLockUrl('rediss://h:6380').scheme).toBe('redis')
    expect(parseLockUrl('postgres://h/db').scheme).toBe('postgres')
    expect(parseLockUrl('postgresql://h/db').scheme).toBe('postgres')
    expect(parseLockUrl('etcd://a:2379,b:2379').scheme).toBe('etcd')
    expect(parseLockUrl('zk://a:2181,b:2181/chroot').scheme).toBe('zk')
  })

  it('redacts credentials in display and lists them as secrets', () => {
    const url = parseLockUrl('postgres://app:s%40cret@db.internal:5432/locks?password=other')
    expect(url.display).not.toMatch(/s%40cret|s@cret|other/)
    expect(url.display).toContain('db.internal:5432')
    expect(url.secrets).toEqual(expect.arrayContaining(['s%40cret', 's@cret', 'other']))
    expect(parseLockUrl('zk://u:pw123@a:2181,b:2181').display).not.toContain('pw123')
  })

  it('throws a TypeError without echoing an unparsable URL', () => {
    expect(() => parseLockUrl('redis://user:p@ss@')).toThrow(TypeError)
    expect(() => parseLockUrl('redis://user:p@ss@')).not.toThrow(/p@ss|ss@/)
    expect(() => parseLockUrl('ftp://x')).toThrow(/scheme "ftp:"/)
    expect(() => parseLockUrl('')).toThrow(/non-empty/)
  })
})

describe('connect', () => {
  it('opens a Locker on memory: and on sqlite:PATH', async () => {
    await using memory = await connect('memory:', { namespace: 'ns' })
    const lock = await memory.acquire('k', { waitMs: 0 })
    expect(lock.fence).toBeGreaterThan(0n)
    await lock.release()

    await using sqlite = await connect(`sqlite:${join(dir, 'nested', 'locks.db')}`, {
      ttlMs: 5_000,
    })
    await using handle = await sqlite.acquire('k')
    expect((await sqlite.inspect('k')).held).toBe(true)
    expect(handle.fence).toBe(1n)
  })

  it('defaults to BATON_URL, else the embedded sqlite file', () => {
    const saved = process.env.BATON_URL
    try {
      process.env.BATON_URL = ''
      expect(defaultUrl()).toBe(DEFAULT_URL)
      process.env.BATON_URL = 'memory:'
      expect(defaultUrl()).toBe('memory:')
    } finally {
      if (saved === undefined) delete process.env.BATON_URL
      else process.env.BATON_URL = saved
    }
  })

  it('builds the driver each scheme names, without connecting (the package-missing error is in pack-install.test.ts)', async () => {
    const cases = [
      ['mysql://root:pw@127.0.0.1:1/db', 'mysql'],
      ['mariadb://root:pw@127.0.0.1:1/db', 'mysql'],
    ] as const
    for (const [url, name] of cases) {
      const driver = await createDriver(url)
      expect(driver.name).toBe(name)
      await driver.close()
    }
  })
})

describe('parseDuration', () => {
  it('accepts ms, s, m, h and plain milliseconds', () => {
    expect(parseDuration('wait', '500ms')).toBe(500)
    expect(parseDuration('wait', '10s')).toBe(10_000)
    expect(parseDuration('wait', '1.5s')).toBe(1_500)
    expect(parseDuration('wait', '2m')).toBe(120_000)
    expect(parseDuration('wait', '1h')).toBe(3_600_000)
    expect(parseDuration('wait', '250')).toBe(250)
    expect(parseDuration('wait', 'forever', { allowInfinity: true })).toBe(Number.POSITIVE_INFINITY)
  })

  it('rejects anything else, naming the flag', () => {
    for (const bad of ['', '10x', '-1s', 's', '1e3', 'forever']) {
      expect(() => parseDuration('ttl', bad), bad).toThrow(/invalid duration for --ttl/)
    }
  })
})
