import mysql from 'mysql2/promise'
import { afterEach, describe, expect, test } from 'vitest'
import { startMariadb } from '../src/index.js'
import { skipIfExternal, useServer } from '../src/vitest.js'

const connections: mysql.Connection[] = []
async function connect(url: string): Promise<mysql.Connection> {
  const connection = await mysql.createConnection({ uri: url, connectTimeout: 5_000 })
  connection.on('error', () => {})
  connections.push(connection)
  return connection
}
afterEach(() => {
  for (const c of connections.splice(0)) c.destroy()
})

describe('startMariadb', () => {
  const mariadb = useServer(() => startMariadb())

  test('serves a real client: root over TCP, database `test`, GET_LOCK works', async (ctx) => {
    skipIfExternal(ctx, mariadb())
    expect(mariadb().port).not.toBe(3306)
    expect(mariadb().url).toBe(`mysql://root@127.0.0.1:${mariadb().port}/test`)
    const connection = await connect(mariadb().url)
    const [rows] = await connection.query('select database() as db, get_lock(?, 0) as granted', [
      'baton',
    ])
    expect(rows).toEqual([{ db: 'test', granted: 1 }])
  })

  test('is unreachable while paused and answers again after resume', async (ctx) => {
    skipIfExternal(ctx, mariadb())
    const connection = await connect(mariadb().url)
    await connection.query('select 1')
    await mariadb().pause()
    try {
      await expect(connection.query({ sql: 'select 1', timeout: 1_000 })).rejects.toThrow(
        /timeout/i,
      )
    } finally {
      await mariadb().resume()
    }
    const [rows] = await (await connect(mariadb().url)).query('select 1 as one')
    expect(rows).toEqual([{ one: 1 }])
  })

  test('restart() keeps port and data', async (ctx) => {
    skipIfExternal(ctx, mariadb())
    const connection = await connect(mariadb().url)
    await connection.query('create table if not exists survives (v int) engine=innodb')
    await connection.query('insert into survives values (7)')
    await mariadb().restart()
    const [rows] = await (await connect(mariadb().url)).query('select v from survives')
    expect(rows).toEqual([{ v: 7 }])
  })
})

describe('startMariadb({ password })', () => {
  const mariadb = useServer(() => startMariadb({ password: 'pa:ss' }))

  test('requires the password', async (ctx) => {
    skipIfExternal(ctx, mariadb())
    expect(mariadb().url).toBe(`mysql://root:pa%3Ass@127.0.0.1:${mariadb().port}/test`)
    const [rows] = await (await connect(mariadb().url)).query('select 1 as one')
    expect(rows).toEqual([{ one: 1 }])
    await expect(connect(`mysql://root@127.0.0.1:${mariadb().port}/test`)).rejects.toThrow(
      /Access denied/,
    )
  })
})
