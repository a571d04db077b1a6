import { startProxy, startZookeeper } from '@baton-lock/test-matrix'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { createLockNode, deleteLockNode, LOCAL_ADDRESS, LOCK_NAME } from '../src/curator-lock.js'
import { CreateMode } from '../src/raw-create.js'
import { longOf, type ZkInternals } from '../src/zk-client.js'
import { ZkSession } from '../src/zk-session.js'

// A create whose reply is lost leaves its outcome unknown: the node may exist. The driver
// looks for it by its protected uuid; a look that loses its connection too must be made
// again, or the node stays on a live session and the key is never free again (S4). The
// replies are lost for real: a fault proxy holds what the server sends, then resets the
// connection, and node-zookeeper-client reconnects to the same session.

let server: Awaited<ReturnType<typeof startZookeeper>>
let proxy: Awaited<ReturnType<typeof startProxy>>

beforeAll(async () => {
  server = await startZookeeper()
  proxy = await startProxy({ host: server.host, port: server.port })
}, 240_000)
afterAll(async () => {
  await proxy?.close()
  await server?.stop()
})

function openSession(connectString: string): Promise<ZkSession> {
  return ZkSession.open({
    connectString,
    requestedTimeoutMs: 10_000,
    connectTimeoutMs: 10_000,
    reconnectDelayMs: 1,
    signal: new AbortController().signal,
  })
}

async function until(what: string, check: () => Promise<boolean> | boolean): Promise<void> {
  const deadline = performance.now() + 5_000
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

const pending = (session: ZkSession) =>
  (session.client as unknown as ZkInternals).connectionManager.pendingQueue.length

test('S4: a create whose reply is lost, then whose look loses its connection too, ends with exactly one node of ours', async () => {
  const session = await openSession(`${proxy.host}:${proxy.port}`)
  const observer = await openSession(`${server.host}:${server.port}`)
  const lockPath = '/baton-lost-replies'
  try {
    await observer.create(lockPath, Buffer.alloc(0), CreateMode.PERSISTENT).catch(() => {})
    const children = () => observer.getChildren(lockPath)

    // 1. the create reaches the server, its reply is held in the proxy
    proxy.hold('toClient')
    const creating = createLockNode(session, lockPath, LOCK_NAME, LOCAL_ADDRESS)
    const outcome = creating.then(
      (node) => ({ node }),
      (error: unknown) => ({ error }),
    )
    await until('the node on the server', async () => (await children()).length === 1)

    // 2. on the next connection, let the ConnectResponse through and hold every later reply
    let lookHeld = false
    session.client.once('connected', () => {
      proxy.connections().at(-1)?.hold('toClient')
      lookHeld = true
    })
    proxy.cut() // the create fails with connection loss, its reply never read
    proxy.heal()
    await until('the reconnect', () => lookHeld)
    await until('the look for the node in flight', () => pending(session) > 0)

    // 3. that look loses its connection too; the next connection answers
    proxy.cut()
    const result = await outcome
    expect(result).not.toHaveProperty('error')
    const node = (result as { node: { name: string; path: string; czxid: bigint } }).node
    const onServer = await children()
    expect(onServer).toEqual([node.name])
    const stat = await observer.exists(node.path)
    expect(stat).not.toBeNull()
    expect(
      longOf(stat?.ephemeralOwner as Buffer)
        .toString(16)
        .padStart(16, '0'),
    ).toBe(session.id)
    expect(longOf(stat?.czxid as Buffer)).toBe(node.czxid)

    expect(await deleteLockNode(session, node.path)).toBe(true)
    expect(await children()).toEqual([])
  } finally {
    proxy.heal()
    await session.close(true)
    await observer.close(true)
  }
}, 30_000)

test('sync answers on an existing path, a missing one and through a chroot', async () => {
  const session = await openSession(`${server.host}:${server.port}`)
  await session
    .create('/baton-lost-replies', Buffer.alloc(0), CreateMode.PERSISTENT)
    .catch(() => {})
  const chrooted = await openSession(`${server.host}:${server.port}/baton-lost-replies`)
  try {
    await session.sync('/')
    await session.sync('/no-such-node/below')
    await chrooted.sync('/')
    // the connection is still usable afterwards: the replies were read as the library expects
    expect(await session.exists('/')).not.toBeNull()
    expect(await chrooted.exists('/')).not.toBeNull()
  } finally {
    await session.close(true)
    await chrooted.close(true)
  }
})
