import { Socket } from 'node:net'
import { startPostgres } from '@baton-lock/test-matrix'
import type pg from 'pg'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { LockSession, rowQuery } from '../src/lock-session.js'
import { lockStatements } from '../src/lock-statements.js'
import { rawClient } from './driver-helpers.js'

// The per-lock statements bypass pg's result machinery (see RowStatement): their rows must
// still read exactly as pg reads them, and only the first use on a connection may ask the
// server to describe them.

let server: Awaited<ReturnType<typeof startPostgres>>
let plain: pg.Client
let session: LockSession

beforeAll(async () => {
  server = await startPostgres()
  plain = await rawClient(server.url)
  session = new LockSession(
    { connectionString: server.url },
    lockStatements('public', 'baton_row_test'),
    () => {},
  )
  await session.open()
})
afterAll(async () => {
  await session?.close()
  await plain?.end()
  await server?.stop()
})

/** Describe of the unnamed portal: 'D', int32 length 6, 'P', an empty name. */
const DESCRIBE_PORTAL = String.fromCharCode(0x44, 0, 0, 0, 6, 0x50, 0)

/** Counts Describe-portal messages ('D', length 6, 'P', empty name) written to any socket until `restore()`. */
function countDescribes() {
  let describes = 0
  const write = Socket.prototype.write
  Socket.prototype.write = function (this: Socket, ...args: unknown[]) {
    const chunk = args[0]
    const text = Buffer.isBuffer(chunk) ? chunk.toString('latin1') : String(chunk)
    describes += text.split(DESCRIBE_PORTAL).length - 1
    return (write as (...a: unknown[]) => boolean).apply(this, args)
  } as typeof write
  return {
    describes: () => describes,
    restore: () => {
      Socket.prototype.write = write
    },
  }
}

const TYPED = [
  'SELECT $1::text AS t, 42::int AS i, 9007199254740993::bigint AS b, true AS yes, false AS no,',
  "NULL::int AS nothing, 1.5::float8 AS f, ''::text AS empty, $2::int AS n, $3::bool AS flag",
].join(' ')

describe('a per-lock statement', () => {
  test("reads every column as pg's own query does, on first and later uses, and is described once per connection", async () => {
    const values = ["it's ünïcode \u{1F512}", 7, true] as const
    const expected = (await plain.query(TYPED, [...values])).rows[0]
    expect(expected).toMatchObject({ i: 42, b: '9007199254740993', yes: true, nothing: null })
    const { describes, restore } = countDescribes()
    const rows = []
    try {
      for (let i = 0; i < 3; i++) rows.push(await session.row(rowQuery('row_typed', TYPED, values)))
    } finally {
      restore()
    }
    for (const row of rows) expect(row).toStrictEqual({ ...expected })
    expect(describes()).toBe(1)
  })

  test('a statement that fails rejects with the server error, and the session answers the next one', async () => {
    const text = 'SELECT 10 / $1::int AS q'
    await expect(session.row(rowQuery('row_divide', text, [0]))).rejects.toMatchObject({
      code: '22012',
    })
    expect(await session.row(rowQuery('row_divide', text, [5]))).toStrictEqual({ q: 2 })
    // pipelined behind a failing one: each answer reaches its own statement
    const [failed, next] = await Promise.allSettled([
      session.row(rowQuery('row_divide', text, [0])),
      session.row(rowQuery('row_divide', text, [2])),
    ])
    expect(failed).toMatchObject({ status: 'rejected', reason: { code: '22012' } })
    expect(next).toStrictEqual({ status: 'fulfilled', value: { q: 5 } })
  })

  test('no row reads as undefined; only the first of several rows is kept', async () => {
    const text = 'SELECT s AS s FROM generate_series(1, $1::int) s'
    expect(await session.row(rowQuery('row_series', text, [0]))).toBeUndefined()
    expect(await session.row(rowQuery('row_series', text, [3]))).toStrictEqual({ s: 1 })
    expect(session.inFlight).toBe(0)
  })
})
