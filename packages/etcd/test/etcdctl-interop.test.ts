import type { ChildProcess } from 'node:child_process'
import { startEtcd } from '@baton-lock/test-matrix'
import { Etcd3 } from 'etcd3'
import { afterAll, afterEach, beforeAll, expect, test } from 'vitest'
import { etcdLockName, lockPrefix } from '../src/index.js'
import { endpointsOf, etcdctlLock, Lines, lockerFor, stop, until } from './helpers.js'

let server: Awaited<ReturnType<typeof startEtcd>>
let admin: Etcd3
const children: ChildProcess[] = []

beforeAll(async () => {
  server = await startEtcd()
  admin = new Etcd3({ hosts: endpointsOf(server.url) })
}, 120_000)
afterEach(async () => {
  await Promise.all(children.splice(0).map((c) => stop(c, 'SIGKILL')))
})
afterAll(async () => {
  admin?.close()
  await server?.stop()
})

/** Keys under `NAME/` in create order, with their create revisions. */
async function queue(name: string): Promise<Array<{ key: string; rev: bigint }>> {
  const kvs = await admin.getAll().prefix(lockPrefix(name)).sort('Create', 'Ascend').exec()
  return kvs.kvs.map((kv) => ({ key: kv.key.toString(), rev: BigInt(kv.create_revision) }))
}

function etcdctl(name: string): { proc: ChildProcess; lines: Lines } {
  const proc = etcdctlLock(server.url, name)
  children.push(proc)
  return { proc, lines: new Lines(proc) }
}

test('the key mapping: a key an operator types is the etcdctl NAME; a/b is kept apart from a', () => {
  expect(etcdLockName('invoice:42')).toBe('invoice:42')
  expect(etcdLockName('a/b')).toBe('a%2Fb')
  expect(etcdLockName('100%')).toBe('100%25')
  expect(lockPrefix(etcdLockName('a/b')).startsWith(lockPrefix('a'))).toBe(false)
})

test('an etcdctl lock holder blocks Baton; Baton is granted after etcdctl ends, with a greater fence', async () => {
  const name = `interop-a-${process.pid}`
  const holder = etcdctl(name)
  const keyLine = await holder.lines.next(new RegExp(`^${name}/[0-9a-f]+$`), 10_000)
  const [held] = await queue(name)
  expect(held?.key).toBe(keyLine)
  const locker = lockerFor(server.url)
  try {
    expect(await locker.tryAcquire(name)).toBeNull()
    const waiting = locker.acquire(name, { waitMs: 20_000, ttlMs: 5_000 })
    await until(
      async () => (await queue(name)).length === 2,
      5_000,
      'Baton to queue behind etcdctl',
    )
    const endedAt = performance.now()
    await stop(holder.proc)
    const handle = await waiting
    console.info(
      `etcd interop: Baton granted ${Math.round(performance.now() - endedAt)} ms after etcdctl ended`,
    )
    expect(handle.fence > (held?.rev ?? 0n)).toBe(true)
    await handle.release()
    expect(await queue(name)).toEqual([])
  } finally {
    await locker.close()
  }
})

test('a Baton holder blocks etcdctl lock; etcdctl is granted after the release', async () => {
  const name = `interop-b-${process.pid}`
  const locker = lockerFor(server.url)
  try {
    const handle = await locker.acquire(name, { ttlMs: 5_000 })
    const waiter = etcdctl(name)
    await until(async () => (await queue(name)).length === 2, 10_000, 'etcdctl to queue')
    // etcdctl stays blocked while Baton holds, across renewals
    await new Promise((r) => setTimeout(r, 2_000))
    expect(waiter.lines.lines).toEqual([])
    expect(handle.isValid()).toBe(true)
    await handle.release()
    const keyLine = await waiter.lines.next(new RegExp(`^${name}/[0-9a-f]+$`), 5_000)
    const [owner] = await queue(name)
    expect(owner?.key).toBe(keyLine)
    expect((owner?.rev ?? 0n) > handle.fence).toBe(true)
    expect(await locker.tryAcquire(name)).toBeNull()
  } finally {
    await locker.close()
  }
})

test('FIFO across Baton and etcdctl: Baton holds, etcdctl queues, Baton queues; grants in that order', async () => {
  const name = `interop-fifo-${process.pid}`
  const first = lockerFor(server.url)
  const third = lockerFor(server.url)
  try {
    const a = await first.acquire(name, { ttlMs: 5_000 })
    const e = etcdctl(name)
    await until(async () => (await queue(name)).length === 2, 10_000, 'etcdctl to queue')
    let bGranted = false
    const b = third.acquire(name, { ttlMs: 5_000, waitMs: 30_000 }).then((h) => {
      bGranted = true
      return h
    })
    await until(async () => (await queue(name)).length === 3, 5_000, 'the second Baton to queue')
    await a.release()
    await e.lines.next(new RegExp(`^${name}/`), 5_000)
    // etcdctl, queued before the second Baton waiter, is the holder now; Baton still waits.
    await new Promise((r) => setTimeout(r, 500))
    expect(bGranted).toBe(false)
    const [etcdctlKey] = await queue(name)
    await stop(e.proc)
    const handle = await b
    expect(handle.fence > (etcdctlKey?.rev ?? 0n)).toBe(true)
    await handle.release()
  } finally {
    await Promise.all([first.close(), third.close()])
  }
})

test('lock "a" through etcdctl does not hold Baton\'s "a/b" (and Baton\'s "a" is etcdctl\'s "a")', async () => {
  const base = `interop-nest-${process.pid}`
  const holder = etcdctl(base)
  await holder.lines.next(new RegExp(`^${base}/`), 10_000)
  const locker = lockerFor(server.url)
  try {
    const nested = await locker.tryAcquire(`${base}/b`)
    expect(nested).not.toBeNull()
    expect(await locker.tryAcquire(base)).toBeNull()
    await nested?.release()
  } finally {
    await locker.close()
  }
})
