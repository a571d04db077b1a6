import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { promisify } from 'node:util'
import { Locker } from '@baton-lock/core'
import { driverRequest } from '@baton-lock/core/driver'
import { startMariadb } from '@baton-lock/test-matrix'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { LOCK_NAME_SQL, lockName, MysqlDriver } from '../src/index.js'
import { must, rawConnection, sql, until } from './driver-helpers.js'

const run = promisify(execFile)
let server: Awaited<ReturnType<typeof startMariadb>>
let cli: ChildProcess | undefined

beforeAll(async () => {
  server = await startMariadb()
})
afterAll(async () => {
  if (cli?.exitCode === null) cli.kill('SIGKILL')
  await server?.stop()
})

/** The `mariadb` command-line client's arguments for the test server. */
function clientArgs(): string[] {
  const url = new URL(server.url)
  return [
    `--host=${url.hostname}`,
    `--port=${url.port}`,
    `--user=${decodeURIComponent(url.username)}`,
    '--default-character-set=utf8mb4',
    '--batch',
    '--skip-column-names',
    url.pathname.slice(1),
  ]
}

/** `SET @k = '<key>';` as an operator types it (single quotes doubled). */
function setKey(key: string): string {
  return `SET @k = '${key.replaceAll('\\', '\\\\').replaceAll("'", "''")}';`
}

test('the documented SQL expression computes the same lock name as lockName(), for any key', async () => {
  const admin = await rawConnection(server.url)
  try {
    const keys = ['jobs:nightly', 'A', 'a', 'ключ/🔒/{x}', 'x'.repeat(1024), 'trailing  ', "it's"]
    for (const key of keys) {
      const [row] = await sql(admin, `SELECT ${LOCK_NAME_SQL.replaceAll('@k', '?')} AS name`, [
        key,
        key,
      ])
      expect(row?.name).toBe(lockName(key))
      expect(Array.from(lockName(key)).length).toBeLessThanOrEqual(64)
    }
    expect(lockName('A').toLowerCase()).not.toBe(lockName('a').toLowerCase())
  } finally {
    admin.destroy()
  }
})

test('a GET_LOCK held by the mariadb client blocks Baton, and Baton gets the key when the client lets go', async () => {
  const key = 'interop:cli-holds'
  cli = spawn(
    'mariadb',
    [
      ...clientArgs(),
      '-e',
      `${setKey(key)} SELECT GET_LOCK(${LOCK_NAME_SQL}, 0); SELECT SLEEP(60);`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  )
  const admin = await rawConnection(server.url)
  const locker = new Locker(new MysqlDriver({ url: server.url }))
  try {
    await until(async () => {
      const [row] = await sql(admin, 'SELECT IS_USED_LOCK(?) AS id', [lockName(key)])
      return row?.id != null
    })
    expect(await locker.tryAcquire(key)).toBeNull()
    const waiting = locker.acquire(key, { waitMs: 20_000 })
    await new Promise((r) => setTimeout(r, 200))
    const killedAt = performance.now()
    cli.kill('SIGKILL')
    const handle = await waiting
    console.info(
      `mysql: Baton granted ${Math.round(performance.now() - killedAt)} ms after the mariadb client died`,
    )
    expect(handle.isValid()).toBe(true)
    await handle.release()
  } finally {
    await locker.close()
    admin.destroy()
  }
})

test('a Baton lock blocks GET_LOCK from the mariadb client, which gets it after the release', async () => {
  const key = 'interop:baton-holds'
  const driver = new MysqlDriver({ url: server.url })
  const query = `${setKey(key)} SELECT GET_LOCK(${LOCK_NAME_SQL}, 0), IS_USED_LOCK(${LOCK_NAME_SQL}) = CONNECTION_ID();`
  try {
    const lease = must(await driver.acquire(driverRequest(key)))
    const blocked = await run('mariadb', [...clientArgs(), '-e', query])
    expect(blocked.stdout.trim().split(/\s+/)).toEqual(['0', '0'])
    expect(await driver.release(lease)).toBe(true)
    const granted = await run('mariadb', [...clientArgs(), '-e', query])
    expect(granted.stdout.trim().split(/\s+/)).toEqual(['1', '1'])
  } finally {
    await driver.close()
  }
})
