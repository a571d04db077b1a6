import { isLockError, Locker } from '@baton-lock/core'
import { freePort, startMariadb } from '@baton-lock/test-matrix'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { MysqlDriver } from '../src/index.js'

const PASSWORD = 'S3cret-pa55word'
let server: Awaited<ReturnType<typeof startMariadb>>

beforeAll(async () => {
  server = await startMariadb({ password: PASSWORD })
})
afterAll(async () => {
  await server?.stop()
})

async function acquireError(url: string): Promise<unknown> {
  const locker = new Locker(new MysqlDriver({ url, connectTimeoutMs: 5_000 }))
  try {
    const handle = await locker.acquire('conn:k', { waitMs: 2_000 })
    await handle.release()
    return undefined
  } catch (err) {
    return err
  } finally {
    await locker.close()
  }
}

function expectRedacted(err: unknown, ...secrets: string[]) {
  const text = `${(err as Error).message}\n${String((err as Error).stack)}`
  for (const secret of secrets) expect(text).not.toContain(secret)
}

test('the right password works (the server does check it), on mysql:// and mariadb://', async () => {
  expect(server.url).toContain(PASSWORD)
  expect(await acquireError(server.url)).toBeUndefined()
  expect(await acquireError(server.url.replace(/^mysql:/, 'mariadb:'))).toBeUndefined()
})

test('a wrong password is a LockBackendError that names the cause and never the password', async () => {
  const wrong = server.url.replace(PASSWORD, 'not-the-pa55word')
  const err = await acquireError(wrong)
  expect(isLockError(err, 'LOCK_BACKEND')).toBe(true)
  expect((err as Error).message).toMatch(/Access denied/)
  expectRedacted(err, 'not-the-pa55word', PASSWORD)
})

test('an unknown database is a LockBackendError naming the database', async () => {
  const err = await acquireError(server.url.replace(/\/test$/, '/no_such_db'))
  expect(isLockError(err, 'LOCK_BACKEND')).toBe(true)
  expect((err as Error).message).toMatch(/Unknown database 'no_such_db'/)
  expectRedacted(err, PASSWORD)
})

test('a refused port is a LockBackendError naming the address, with the password redacted', async () => {
  const port = await freePort()
  const err = await acquireError(`mysql://root:${PASSWORD}@127.0.0.1:${port}/test`)
  expect(isLockError(err, 'LOCK_BACKEND')).toBe(true)
  expect((err as Error).message).toMatch(/ECONNREFUSED/)
  expectRedacted(err, PASSWORD)
})

test('malformed URLs are TypeErrors at construction that never show the password', () => {
  const bad = [
    `mysql://root:${PASSWORD}@/test`,
    `postgres://root:${PASSWORD}@127.0.0.1/test`,
    `mysql://root:${PASSWORD}@127.0.0.1:3306/test?ssl=true`,
    `mysql://root:${PASSWORD}@127.0.0.1:3306/a/b`,
    'not a url',
  ]
  for (const url of bad) {
    let err: unknown
    try {
      new MysqlDriver({ url })
    } catch (e) {
      err = e
    }
    expect(err, url).toBeInstanceOf(TypeError)
    expectRedacted(err, PASSWORD)
  }
  expect(() => new MysqlDriver({})).toThrow(TypeError)
  expect(() => new MysqlDriver({ url: server.url, maxSessions: 1 })).toThrow(RangeError)
})
