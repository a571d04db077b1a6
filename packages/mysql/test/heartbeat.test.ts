import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { Locker, type LockHandle, LockLostError } from '@baton-lock/core'
import { driverRequest } from '@baton-lock/core/driver'
import { startMariadb } from '@baton-lock/test-matrix'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { lockName, MysqlDriver } from '../src/index.js'
import { holderOfName, must, rawConnection, until } from './driver-helpers.js'
import { type StatementInjector, startInjector } from './statement-injector.js'

const run = promisify(execFile)
let server: Awaited<ReturnType<typeof startMariadb>>
let injector: StatementInjector
let admin: Awaited<ReturnType<typeof rawConnection>>

/** Core renews at a third of the TTL: a heartbeat reaches the server at least this often. */
const TTL_MS = 3_000
const HEARTBEAT_MS = TTL_MS / 3
/** A loss must be signalled within one heartbeat interval plus this (a loaded machine's round trip and timer lateness). */
const SLACK_MS = 1_500

beforeAll(async () => {
  server = await startMariadb()
  injector = await startInjector(server.host, server.port)
  admin = await rawConnection(server.url)
})
afterAll(async () => {
  admin?.destroy()
  await injector?.close()
  await server?.stop()
})

const holderOf = (key: string) => holderOfName(admin, lockName(key))

/** Resolves right after core's next renewal of `handle` completed (its validity moved forward). */
async function afterRenewal(handle: LockHandle): Promise<void> {
  const deadlineMs = performance.now() + 3 * HEARTBEAT_MS + SLACK_MS
  let last = handle.validForMs()
  for (;;) {
    await new Promise((r) => setTimeout(r, 2))
    const now = handle.validForMs()
    if (now > last + 5) return
    last = now
    if (performance.now() > deadlineMs) throw new Error('no renewal of the handle was seen')
  }
}

test("a name released behind the driver's back on its own live session is lost at the next heartbeat, and only that one", async () => {
  const url = new URL(server.url)
  url.port = String(injector.port)
  const locker = new Locker(new MysqlDriver({ url: url.href }), { ttlMs: TTL_MS })
  try {
    const a = await locker.acquire('heartbeat:a', { waitMs: 5_000 })
    const b = await locker.acquire('heartbeat:b', { waitMs: 5_000 })
    const session = must(await holderOf('heartbeat:a'))
    expect(await holderOf('heartbeat:b')).toBe(session)
    // between two heartbeats the session is idle: the relay slips in a release of one name
    await afterRenewal(a)
    await injector.inject(`DO RELEASE_LOCK('${lockName('heartbeat:a')}')`)
    const releasedAtMs = performance.now()
    // the server really freed it, while the session lives on
    expect(await holderOf('heartbeat:a')).toBeNull()
    expect(await holderOf('heartbeat:b')).toBe(session)
    await until(() => a.signal.aborted, HEARTBEAT_MS + SLACK_MS)
    const lostAfterMs = performance.now() - releasedAtMs
    console.info(
      `mysql: a name released behind the driver's back was lost ${Math.round(lostAfterMs)} ms later (heartbeat every ${HEARTBEAT_MS} ms)`,
    )
    expect(lostAfterMs).toBeLessThanOrEqual(HEARTBEAT_MS + SLACK_MS)
    expect(a.signal.reason).toBeInstanceOf(LockLostError)
    expect(a.isValid()).toBe(false)
    // the other lock of the same session is confirmed by the following heartbeats
    await afterRenewal(b)
    await afterRenewal(b)
    expect(b.signal.aborted).toBe(false)
    expect(b.isValid()).toBe(true)
    expect(await holderOf('heartbeat:b')).toBe(session)
    // and the lost key can be taken again, with a greater fence
    const other = new MysqlDriver({ url: server.url })
    try {
      const lease = must(await other.acquire(driverRequest('heartbeat:a')))
      expect(lease.fence > a.fence).toBe(true)
      await other.release(lease)
    } finally {
      await other.close()
    }
    await b.release()
    expect(await holderOf('heartbeat:b')).toBeNull()
  } finally {
    await locker.close()
  }
})

test('KILL of the lock session from the mariadb client loses every lock on it within a heartbeat interval, and frees them', async () => {
  const locker = new Locker(new MysqlDriver({ url: server.url }), { ttlMs: TTL_MS })
  try {
    const a = await locker.acquire('kill:a', { waitMs: 5_000 })
    const b = await locker.acquire('kill:b', { waitMs: 5_000 })
    const session = must(await holderOf('kill:a'))
    expect(await holderOf('kill:b')).toBe(session)
    const url = new URL(server.url)
    const killedAtMs = performance.now()
    await run('mariadb', [
      `--host=${url.hostname}`,
      `--port=${url.port}`,
      `--user=${decodeURIComponent(url.username)}`,
      '--batch',
      `--execute=KILL ${session}`,
    ])
    await until(() => a.signal.aborted && b.signal.aborted, HEARTBEAT_MS + SLACK_MS)
    const lostAfterMs = performance.now() - killedAtMs
    console.info(
      `mysql: KILL from the mariadb client: both locks lost ${Math.round(lostAfterMs)} ms later`,
    )
    expect(lostAfterMs).toBeLessThanOrEqual(HEARTBEAT_MS + SLACK_MS)
    expect(a.signal.reason).toBeInstanceOf(LockLostError)
    expect(b.signal.reason).toBeInstanceOf(LockLostError)
    expect(await holderOf('kill:a')).toBeNull()
    expect(await holderOf('kill:b')).toBeNull()
    // the driver opens a fresh session for the next acquire
    const again = await locker.acquire('kill:a', { waitMs: 5_000 })
    expect(again.fence > a.fence).toBe(true)
    expect(await holderOf('kill:a')).not.toBe(session)
    await again.release()
  } finally {
    await locker.close()
  }
})
