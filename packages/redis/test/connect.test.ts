import { createServer } from 'node:net'
import { isLockError, type LockBackendError, Locker } from '@baton-lock/core'
import { driverRequest, uniqueKey } from '@baton-lock/core/driver'
import { RedisDriver } from '@baton-lock/redis'
import { type ServerHandle, startRedis } from '@baton-lock/test-matrix'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const PASSWORD = 'pa55-w0rd-s3cret'
const WRONG = 'wr0ng-pa55-s3cret'
let secured: ServerHandle
let evicting: ServerHandle

beforeAll(async () => {
  ;[secured, evicting] = await Promise.all([
    startRedis({ password: PASSWORD }),
    startRedis({ args: ['--maxmemory', '64mb', '--maxmemory-policy', 'volatile-lru'] }),
  ])
})
afterAll(async () => {
  await Promise.all([secured?.stop(), evicting?.stop()])
})

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const probe = createServer()
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
  const { port } = probe.address() as { port: number }
  await new Promise((resolve) => probe.close(resolve))
  return port
}

async function backendError(url: string): Promise<LockBackendError> {
  const locker = new Locker(new RedisDriver({ url, onWarning: () => {} }))
  try {
    const err = await locker.acquire('k', { waitMs: 1_000 }).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(isLockError(err, 'LOCK_BACKEND')).toBe(true)
    return err as LockBackendError
  } finally {
    await locker.close().catch(() => undefined)
  }
}

describe('connection errors', () => {
  it('a wrong password gives a LockBackendError naming the cause, without the password', async () => {
    const url = `redis://:${WRONG}@127.0.0.1:${secured.port}`
    const err = await backendError(url)
    expect(err.message).toMatch(/WRONGPASS|NOAUTH|invalid/i)
    expect(`${err.message} ${String(err.cause)} ${err.stack}`).not.toContain(WRONG)
  })

  it('nothing listening: a clear LockBackendError, password redacted', async () => {
    const err = await backendError(`redis://user:${PASSWORD}@127.0.0.1:${await closedPort()}/0`)
    expect(err.message).toMatch(/ECONNREFUSED|connect/i)
    expect(`${err.message} ${String(err.cause)}`).not.toContain(PASSWORD)
  })

  it('malformed URLs and other schemes are TypeErrors that do not echo the URL', () => {
    for (const url of [
      `redis://:${PASSWORD}@[::1`,
      `http://:${PASSWORD}@127.0.0.1:1`,
      'not a url',
    ]) {
      let thrown: unknown
      try {
        new RedisDriver({ url })
      } catch (err) {
        thrown = err
      }
      expect(thrown).toBeInstanceOf(TypeError)
      expect(String(thrown)).not.toContain(PASSWORD)
    }
    expect(() => new RedisDriver({})).toThrow(TypeError)
  })

  it('the right password connects; RedisDriver.connect rejects a wrong one', async () => {
    const driver = await RedisDriver.connect({ url: secured.url, onWarning: () => {} })
    expect(driver.server?.runId).toMatch(/^[0-9a-f]{40}$/)
    await driver.close()
    const url = `redis://:${WRONG}@127.0.0.1:${secured.port}`
    await expect(RedisDriver.connect({ url })).rejects.toThrow(/WRONGPASS|invalid/i)
  })
})

describe('deployment checks at connect', () => {
  it('warns when maxmemory-policy may evict held lock keys (volatile-* evicts keys with a TTL)', async () => {
    const seen: string[] = []
    const driver = await RedisDriver.connect({ url: evicting.url, onWarning: (m) => seen.push(m) })
    expect(seen).toHaveLength(1)
    expect(seen[0]).toMatch(/maxmemory-policy is "volatile-lru"/)
    expect(driver.warnings).toEqual(seen)
    expect(driver.server?.maxmemoryPolicy).toBe('volatile-lru')
    await driver.close()
    const quiet = await RedisDriver.connect({ url: secured.url, onWarning: (m) => seen.push(m) })
    expect(quiet.warnings).toEqual([])
    await quiet.close()
  })

  it('capabilities stay volatile until the server was read, then follow its persistence', async () => {
    const driver = new RedisDriver({ url: secured.url, onWarning: () => {} })
    expect(driver.capabilities.fencing).toBe('volatile')
    expect(driver.capabilities).toMatchObject({
      expiry: 'lease',
      nativeWait: true,
      fair: true,
      queuedWait: true,
      lossSignal: true,
      inspect: true,
    })
    await driver.ready()
    expect(driver.capabilities.fencing).toBe('volatile') // appendonly no
    await driver.close()
  })

  it('an ACL user without INFO and CONFIG: connects with conservative capabilities and says what it cannot check', async () => {
    const restricted = await startRedis({
      args: ['--user', 'locker', 'on', '>locker-pw', '~*', '&*', '+@all', '-info', '-config'],
    })
    try {
      const url = `redis://locker:locker-pw@127.0.0.1:${restricted.port}`
      const driver = await RedisDriver.connect({ url, onWarning: () => {} })
      expect(driver.capabilities.fencing).toBe('volatile')
      expect(driver.warnings.join('\n')).toMatch(/restarts and failovers cannot be detected/)
      expect(driver.warnings.join('\n')).toMatch(/maxmemory-policy is not readable/)
      const lease = await driver.acquire(driverRequest(uniqueKey('acl')))
      expect(lease?.fence).toBe(1n)
      await driver.close()
    } finally {
      await restricted.stop()
    }
  })

  it('an injected client: unsafe options are warned about, keyPrefix is refused, it stays open', async () => {
    const client = new Redis(evicting.url)
    const seen: string[] = []
    const driver = new RedisDriver({ client, onWarning: (m) => seen.push(m) })
    expect(seen.some((m) => m.includes('enableOfflineQueue'))).toBe(true)
    await driver.ready()
    await driver.close()
    expect(await client.ping()).toBe('PONG')
    client.disconnect()
    const prefixed = new Redis(evicting.url, { keyPrefix: 'app:', lazyConnect: true })
    expect(() => new RedisDriver({ client: prefixed })).toThrow(/keyPrefix/)
    prefixed.disconnect()
  })
})
