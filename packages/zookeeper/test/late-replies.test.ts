import { driverRequest } from '@baton-lock/core/driver'
import { startZookeeper } from '@baton-lock/test-matrix'
import { afterAll, afterEach, beforeAll, beforeEach, expect, test } from 'vitest'
import { ZookeeperDriver } from '../src/index.js'
import { ZK, type ZkInternals, zkErrorCode } from '../src/zk-client.js'
import { ZkSession } from '../src/zk-session.js'

// node-zookeeper-client parses every byte by its own state: a ConnectResponse that reaches
// a client which close() already moved to CLOSING is read as a reply, and an error code it
// does not know makes it throw from the socket's 'data' handler, an uncaught exception in
// the user's process. These tests close while replies are in flight and while the client
// is reconnecting, and fail on any uncaught exception.

let server: Awaited<ReturnType<typeof startZookeeper>>
const uncaught: unknown[] = []
const onUncaught = (err: unknown) => uncaught.push(err)

beforeAll(async () => {
  server = await startZookeeper()
}, 240_000)
afterAll(async () => {
  await server?.stop()
})
beforeEach(() => {
  uncaught.length = 0
  process.on('uncaughtException', onUncaught)
})
afterEach(() => {
  process.off('uncaughtException', onUncaught)
})

const settle = () => new Promise((resolve) => setTimeout(resolve, 150))

function openSession(): Promise<ZkSession> {
  return ZkSession.open({
    connectString: server.url.replace(/^zk:\/\//, ''),
    requestedTimeoutMs: 4_000,
    connectTimeoutMs: 10_000,
    reconnectDelayMs: 1,
    signal: new AbortController().signal,
  })
}

test('closing a driver while acquires, inspects and releases are in flight throws nothing', async () => {
  for (let round = 0; round < 10; round++) {
    const driver = new ZookeeperDriver({ url: server.url, minSessionTimeoutMs: 500 })
    await driver.ready()
    const held = await driver.acquire(driverRequest(`late:held:${round}`))
    const calls: Array<Promise<unknown>> = []
    for (let i = 0; i < 20; i++) {
      calls.push(driver.acquire(driverRequest(`late:${round}:${i}`, { waitMs: 1_000 })))
      calls.push(driver.inspect(`late:${round}:${i}`))
    }
    if (held !== null) calls.push(driver.release(held))
    const settled = Promise.allSettled(calls)
    // let part of the requests reach the server, so that replies are on the wire at close
    await new Promise((resolve) => setTimeout(resolve, round % 3))
    await driver.close()
    await settled
  }
  await settle()
  expect(uncaught).toEqual([])
})

test('closing a session while its client reconnects throws nothing (the ConnectResponse is not read as a reply)', async () => {
  for (let round = 0; round < 20; round++) {
    const session = await openSession()
    // odd rounds have requests in flight; even rounds none yet, so the CLOSE_SESSION request
    // gets xid 0, the very field a ConnectResponse misread as a reply carries (its protocol
    // version): the library then takes the reply for its own and throws on its error code
    const calls = Promise.allSettled(
      round % 2 === 1 ? [session.getChildren('/'), session.exists('/zookeeper')] : [],
    )
    // drop the connection: the client reconnects, and its ConnectResponse is on the way
    const reconnecting = new Promise<void>((resolve) =>
      session.client.once('disconnected', () => resolve()),
    )
    ;(session.client as unknown as ZkInternals).connectionManager.socket?.destroy()
    await reconnecting
    await new Promise((resolve) => setTimeout(resolve, 1 + (round % 3)))
    await session.close(false)
    await calls
  }
  await settle()
  expect(uncaught).toEqual([])
})

test('bytes the client cannot read drop the connection instead of throwing', async () => {
  const session = await openSession()
  try {
    const manager = (session.client as unknown as ZkInternals).connectionManager
    const dropped = new Promise<void>((resolve) =>
      session.client.once('disconnected', () => resolve()),
    )
    // a reply frame for no request, with an error code the library does not know:
    // int32 length, int32 xid, int64 zxid, int32 err
    const pending = session.getChildren('/').catch((err: unknown) => err)
    const frame = Buffer.alloc(20)
    frame.writeInt32BE(16, 0)
    frame.writeInt32BE((manager as unknown as { xid: number }).xid - 1, 4) // the getChildren's
    frame.writeInt32BE(-999_999, 16)
    expect(() => manager.onSocketData(frame)).not.toThrow()
    await dropped
    // the request whose reply could not be read fails as a connection loss (outcome unknown)
    expect(zkErrorCode(await pending)).toBe(ZK.CONNECTION_LOSS)
    // and the session goes on: the client reconnected with it
    expect(await session.exists('/')).not.toBeNull()
  } finally {
    await session.close(false)
  }
  await settle()
  expect(uncaught).toEqual([])
})

test('a session closed before its connect completed throws nothing either', async () => {
  for (let round = 0; round < 10; round++) {
    const controller = new AbortController()
    const opening = ZkSession.open({
      connectString: server.url.replace(/^zk:\/\//, ''),
      requestedTimeoutMs: 4_000,
      connectTimeoutMs: 10_000,
      reconnectDelayMs: 1,
      signal: controller.signal,
    })
    setTimeout(() => controller.abort(new Error('stop')), round % 3)
    const session = await opening.catch(() => undefined)
    await session?.close(false)
  }
  await settle()
  expect(uncaught).toEqual([])
})
