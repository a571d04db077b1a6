import { Etcd3 } from 'etcd3'
import { afterEach, describe, expect, test } from 'vitest'
import { startEtcd, startEtcdCluster } from '../src/index.js'
import { skipIfExternal, useServer } from '../src/vitest.js'
import { eventually, withTimeout } from './helpers.js'

const clients: Etcd3[] = []
/** An etcd3 client for `etcd://h:p[,h:p]`, or for the given members only. */
function client(url: string): Etcd3 {
  const hosts = url
    .replace(/^etcd:\/\//, '')
    .split(',')
    .map((h) => `http://${h}`)
  const etcd = new Etcd3({ hosts, dialTimeout: 2_000 })
  clients.push(etcd)
  return etcd
}
afterEach(() => {
  for (const c of clients.splice(0)) c.close()
})

describe('startEtcd', () => {
  const etcd = useServer(() => startEtcd())

  test('serves a real client', async (ctx) => {
    skipIfExternal(ctx, etcd())
    expect(etcd().port).not.toBe(2379)
    expect(etcd().url).toBe(`etcd://127.0.0.1:${etcd().port}`)
    await client(etcd().url).put('baton/smoke').value('ok')
    expect(await client(etcd().url).get('baton/smoke').string()).toBe('ok')
  })

  test('is unreachable while paused and answers again after resume', async (ctx) => {
    skipIfExternal(ctx, etcd())
    const etcd3 = client(etcd().url)
    await etcd3.get('x').string()
    await etcd().pause()
    try {
      await expect(withTimeout(etcd3.get('x').string(), 1_000)).rejects.toThrow(/timed out/)
    } finally {
      await etcd().resume()
    }
    expect(await withTimeout(client(etcd().url).get('baton/smoke').string(), 5_000)).toBe('ok')
  })

  test('restart() keeps port and data, after a graceful stop and after kill()', async (ctx) => {
    skipIfExternal(ctx, etcd())
    await client(etcd().url).put('baton/durable').value('1')
    await etcd().restart()
    expect(await client(etcd().url).get('baton/durable').string()).toBe('1')
    await etcd().kill()
    await etcd().restart()
    expect(await client(etcd().url).get('baton/durable').string()).toBe('1')
  })
})

describe('startEtcdCluster(3)', () => {
  const cluster = useServer(() => startEtcdCluster(3))

  test('keeps serving with one member killed, and the member rejoins', async (ctx) => {
    skipIfExternal(ctx, cluster())
    const [first, second, third] = cluster().members
    if (!first || !second || !third) throw new Error('expected three members')
    expect(cluster().url).toBe(
      `etcd://${[first, second, third].map((m) => `127.0.0.1:${m.port}`).join(',')}`,
    )
    await client(cluster().url).put('baton/cluster').value('before')
    await first.kill()
    // Survivors re-elect a leader if the killed member led; then writes commit on two of three.
    const survivors = client(`${second.url},127.0.0.1:${third.port}`)
    await eventually(async () => {
      await withTimeout(survivors.put('baton/cluster').value('during').exec(), 2_000)
      return true
    }, 15_000)
    await first.restart()
    expect(await withTimeout(client(first.url).get('baton/cluster').string(), 5_000)).toBe('during')
  })

  test('isolate() needs peerProxies', (ctx) => {
    skipIfExternal(ctx, cluster())
    expect(() => cluster().isolate(0)).toThrow(/peerProxies/)
  })
})

describe('startEtcdCluster(3, { peerProxies: true })', () => {
  const cluster = useServer(() => startEtcdCluster(3, { peerProxies: true }))

  test('isolate(i) cuts one member off from the other two (it commits nothing), heal() lets it rejoin', {
    timeout: 120_000,
  }, async (ctx) => {
    skipIfExternal(ctx, cluster())
    const [first, second, third] = cluster().members
    if (!first || !second || !third) throw new Error('expected three members')
    await client(cluster().url).put('baton/partition').value('before')
    cluster().isolate(0)
    try {
      // The minority member cannot commit a write; the majority (re-electing if needed) can.
      const minority = client(first.url)
      await expect(
        withTimeout(minority.put('baton/partition').value('minority').exec(), 3_000),
      ).rejects.toThrow()
      // The given-up put may still be retried by the client and commit after heal(): close it.
      minority.close()
      const majority = client(`${second.url},127.0.0.1:${third.port}`)
      await eventually(async () => {
        await withTimeout(majority.put('baton/partition').value('majority').exec(), 2_000)
        return true
      }, 15_000)
    } finally {
      cluster().heal()
    }
    // Rejoined: the member serves linearizable reads of a write the majority made after the
    // heal (a key of its own, so no retried write from the partition can overwrite it).
    const majority = client(`${second.url},127.0.0.1:${third.port}`)
    await eventually(async () => {
      await withTimeout(majority.put('baton/rejoin').value('healed').exec(), 2_000)
      return true
    }, 30_000)
    await eventually(async () => {
      const value = await withTimeout(client(first.url).get('baton/rejoin').string(), 2_000)
      return value === 'healed'
    }, 60_000)
  })
})
