import { describe, expect, test } from 'vitest'
import { startZookeeper, startZookeeperEnsemble } from '../src/index.js'
import { exchange } from '../src/probes.js'
import { skipIfExternal, useServer } from '../src/vitest.js'
import { eventually, withTimeout, zkConnect } from './helpers.js'

const mode = async (port: number) =>
  /Mode: (\w+)/.exec((await exchange('127.0.0.1', port, 'srvr', () => false)).toString())?.[1]

// One JVM per describe: ZooKeeper starts are the slowest of all backends.
describe('startZookeeper', () => {
  const zk = useServer(() => startZookeeper())

  test('serves a real client, goes silent while paused and answers after resume', async (ctx) => {
    skipIfExternal(ctx, zk())
    expect(zk().port).not.toBe(2181)
    expect(zk().url).toBe(`zk://127.0.0.1:${zk().port}`)
    const client = await zkConnect(zk().url)
    try {
      await client.create('/baton', 'ok')
      expect(await client.get('/baton')).toBe('ok')
      await zk().pause()
      try {
        await expect(withTimeout(client.get('/baton'), 1_000)).rejects.toThrow(/timed out/)
      } finally {
        await zk().resume()
      }
    } finally {
      client.close()
    }
    const after = await zkConnect(zk().url)
    try {
      expect(await after.get('/baton')).toBe('ok')
    } finally {
      after.close()
    }
  })

  test('restart() keeps port and data', async (ctx) => {
    skipIfExternal(ctx, zk())
    await zk().restart()
    const client = await zkConnect(zk().url)
    try {
      expect(await client.get('/baton')).toBe('ok')
    } finally {
      client.close()
    }
  })
})

describe('startZookeeperEnsemble(3)', () => {
  const ensemble = useServer(() => startZookeeperEnsemble(3))

  test('keeps serving with one server killed, and the server rejoins', async (ctx) => {
    skipIfExternal(ctx, ensemble())
    const members = ensemble().members
    expect(members).toHaveLength(3)
    const modes = await Promise.all(members.map((m) => mode(m.port)))
    expect(modes.sort()).toEqual(['follower', 'follower', 'leader'])
    const leader = members[modes.indexOf('leader')] ?? members[0]
    if (!leader) throw new Error('no leader')
    const client = await zkConnect(ensemble().url)
    try {
      await client.create('/ensemble', 'before')
      await leader.kill()
      // The two survivors elect a new leader; the client reconnects to one of them.
      await eventually(async () => {
        await withTimeout(client.set('/ensemble', 'during'), 2_000)
        return true
      }, 20_000)
      expect(await client.get('/ensemble')).toBe('during')
    } finally {
      client.close()
    }
    await leader.restart()
    const rejoined = await zkConnect(leader.url)
    try {
      expect(await rejoined.get('/ensemble')).toBe('during')
    } finally {
      rejoined.close()
    }
  })

  test('isolate() needs peerProxies', (ctx) => {
    skipIfExternal(ctx, ensemble())
    expect(() => ensemble().isolate(0)).toThrow(/peerProxies/)
  })
})

describe('startZookeeperEnsemble(3, { peerProxies: true })', () => {
  const ensemble = useServer(() => startZookeeperEnsemble(3, { peerProxies: true }))

  test('isolate(i) cuts the leader off from the other two (they elect another, it stops serving), heal() lets it rejoin', {
    timeout: 120_000,
  }, async (ctx) => {
    skipIfExternal(ctx, ensemble())
    const members = ensemble().members
    const modes = await Promise.all(members.map((m) => mode(m.port)))
    expect([...modes].sort()).toEqual(['follower', 'follower', 'leader'])
    const index = modes.indexOf('leader')
    const others = members.filter((_, i) => i !== index)
    // What each stage last saw, for the timeout's message.
    let seen: (string | undefined)[] = []
    const modesOf = async (of: readonly { port: number }[]) => {
      seen = await Promise.all(of.map((m) => mode(m.port).catch(() => 'unreachable')))
      return seen
    }
    const state = (stage: string) => () =>
      `${stage}; modes (members ${members.map((m) => m.port).join(', ')}; leader was ${index}): ${JSON.stringify(seen)}`
    ensemble().isolate(index)
    try {
      // Without its followers the old leader stops serving (after syncLimit ticks), and the
      // majority elects a leader of its own; clients of the majority can write.
      await eventually(
        async () => (await modesOf([members[index] ?? { port: 0 }]))[0] === undefined,
        30_000,
        state('the isolated leader still serves'),
      )
      await eventually(
        async () => {
          const now = await modesOf(others)
          return now.includes('leader') && now.includes('follower')
        },
        60_000,
        state('the majority has not elected'),
      )
      const client = await zkConnect(`zk://${others.map((m) => `127.0.0.1:${m.port}`).join(',')}`)
      try {
        await withTimeout(client.create('/partition', 'majority'), 5_000)
      } finally {
        client.close()
      }
    } finally {
      ensemble().heal()
    }
    await eventually(
      async () => [...(await modesOf(members))].sort().join() === 'follower,follower,leader',
      60_000,
      state('the healed member has not rejoined'),
    )
    const rejoined = await zkConnect(members[index]?.url ?? '')
    try {
      expect(await withTimeout(rejoined.get('/partition'), 5_000)).toBe('majority')
    } finally {
      rejoined.close()
    }
  })
})
