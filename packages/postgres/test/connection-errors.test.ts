import { isLockError, Locker } from '@baton-lock/core'
import { freePort, startPostgres } from '@baton-lock/test-matrix'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { PostgresDriver } from '../src/index.js'

const PASSWORD = 'S3cret-pa55word'
let server: Awaited<ReturnType<typeof startPostgres>>

beforeAll(async () => {
  server = await startPostgres({ password: PASSWORD })
})
afterAll(async () => {
  await server?.stop()
})

async function acquireError(url: string): Promise<unknown> {
  const locker = new Locker(new PostgresDriver({ url, connectTimeoutMs: 5_000 }))
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

test('the right password works (the server does check it)', async () => {
  expect(server.url).toContain(PASSWORD)
  expect(await acquireError(server.url)).toBeUndefined()
})

test('a wrong password is a LockBackendError that names the cause and never the password', async () => {
  const wrong = server.url.replace(PASSWORD, 'not-the-pa55word')
  const err = await acquireError(wrong)
  expect(isLockError(err, 'LOCK_BACKEND')).toBe(true)
  const message = (err as Error).message
  expect(message).toMatch(/password authentication failed/)
  expect(message).not.toContain('not-the-pa55word')
  expect(message).not.toContain(PASSWORD)
  expect(String((err as Error).stack)).not.toContain('not-the-pa55word')
})

test('an unreachable server is a LockBackendError naming the address, with the password redacted', async () => {
  const port = await freePort()
  const err = await acquireError(`postgres://postgres:${PASSWORD}@127.0.0.1:${port}/postgres`)
  expect(isLockError(err, 'LOCK_BACKEND')).toBe(true)
  const message = (err as Error).message
  expect(message).toMatch(/ECONNREFUSED|connect/)
  expect(message).not.toContain(PASSWORD)
})
