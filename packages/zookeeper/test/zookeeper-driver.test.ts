import { driverRequest } from '@baton-lock/core/driver'
import { startZookeeper } from '@baton-lock/test-matrix'
import { afterAll, beforeAll, expect, test } from 'vitest'
import {
  keyOfNodeName,
  lockNodeName,
  lockPath,
  parseZookeeperUrl,
  semaphorePath,
  ZookeeperDriver,
} from '../src/index.js'
import { type AdminClient, adminClient } from './zk-admin.js'

let server: Awaited<ReturnType<typeof startZookeeper>>
let admin: AdminClient

beforeAll(async () => {
  // empty containers are deleted every 500 ms, so the test sees the server remove them
  server = await startZookeeper({ containerCheckIntervalMs: 500 })
  admin = await adminClient(server.url)
}, 240_000)
afterAll(async () => {
  admin?.close()
  await server?.stop()
})

test('the lock path and its ancestors are CONTAINER nodes: the server deletes them once empty', async () => {
  const driver = new ZookeeperDriver({
    url: server.url,
    minSessionTimeoutMs: 500,
    rootPath: '/c/deep',
  })
  try {
    const lease = await driver.acquire(driverRequest('container:key'))
    expect(lease).not.toBeNull()
    const path = driver.lockPathOf('container:key')
    expect(path).toBe('/c/deep/container:key')
    expect(await admin.exists(path)).not.toBeNull()
    if (lease) await driver.release(lease)
    const deadline = performance.now() + 20_000
    while ((await admin.exists('/c')) !== null && performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100))
    }
    // a PERSISTENT parent would stay for ever
    expect(await admin.exists('/c')).toBeNull()
  } finally {
    await driver.close()
  }
})

test('a chroot in the URL prefixes every path; lock paths are relative to it', async () => {
  await admin.mkdirp('/tenant') // ZooKeeper needs the chroot node to exist (as for Curator)
  const driver = new ZookeeperDriver({ url: `${server.url}/tenant`, minSessionTimeoutMs: 500 })
  try {
    const lease = await driver.acquire(driverRequest('chroot:key'))
    expect(lease).not.toBeNull()
    const [node] = await admin.getChildren('/tenant/baton/chroot:key')
    expect(node).toMatch(/^_c_[0-9a-f-]{36}-lock-\d{10}$/)
    expect((await driver.inspect('chroot:key'))?.fence).toBe(lease?.fence)
    if (lease) await driver.release(lease)
  } finally {
    await driver.close()
  }
})

test('keys map one to one onto single znode names', () => {
  const keys = ['invoice:42', 'a/b', '%2F', '.', '..', 'x.y', 'ключ', '🔒', 'tab\there', 'A', 'a']
  const names = keys.map(lockNodeName)
  expect(new Set(names).size).toBe(keys.length)
  for (const name of names) expect(name).not.toMatch(/\//)
  expect(lockPath('invoice:42', '/baton')).toBe('/baton/invoice:42')
  expect(lockPath('a/b', '/')).toBe('/a%2Fb')
  expect(lockNodeName('..')).toBe('%2E%2E')
  for (const key of keys) expect(keyOfNodeName(lockNodeName(key))).toBe(key)
  expect(keyOfNodeName('not%zzvalid')).toBeUndefined()
  // semaphores live under a name no key maps to, so list() and locks never meet them
  expect(semaphorePath('a/b', '/baton')).toBe('/baton/%semaphores/a%2Fb')
  expect(keyOfNodeName('%semaphores')).toBeUndefined()
  expect(keys.map(lockNodeName)).not.toContain('%semaphores')
})

test('URLs: host lists, chroot, root; bad ones are TypeErrors that name the problem', () => {
  expect(parseZookeeperUrl('zk://h1:2181,h2:2182/app?root=/locks')).toEqual({
    connectString: 'h1:2181,h2:2182/app',
    rootPath: '/locks',
  })
  expect(parseZookeeperUrl('zk://127.0.0.1:2181')).toEqual({
    connectString: '127.0.0.1:2181',
    rootPath: undefined,
  })
  expect(() => parseZookeeperUrl('zk://h1')).toThrow(/not host:port/)
  expect(() => parseZookeeperUrl('zk://h1:99999')).toThrow(/not host:port/)
  expect(() => parseZookeeperUrl('zk://h1:1/a/')).toThrow(/chroot/)
  expect(() => parseZookeeperUrl('redis://h1:1')).toThrow(TypeError)
  expect(() => new ZookeeperDriver({})).toThrow(/exactly one of/)
  expect(() => new ZookeeperDriver({ url: 'zk://h:1', maxSessions: 0 })).toThrow(RangeError)
  expect(
    () => new ZookeeperDriver({ url: 'zk://h:1', exclusiveRecipe: 'mutex' as 'InterProcessMutex' }),
  ).toThrow(/exclusiveRecipe must be/)
})

test('an unreachable server: ready() fails within connectTimeoutMs with a plain error', async () => {
  const driver = new ZookeeperDriver({ url: 'zk://127.0.0.1:1', connectTimeoutMs: 500 })
  const startedAt = performance.now()
  await expect(driver.ready()).rejects.toThrow(/no ZooKeeper server answered within 500 ms/)
  expect(performance.now() - startedAt).toBeLessThan(3_000)
  await driver.close()
})
