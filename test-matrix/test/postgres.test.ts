import pg from 'pg'
import { afterEach, describe, expect, test } from 'vitest'
import { startPostgres } from '../src/index.js'
import { skipIfExternal, useServer } from '../src/vitest.js'

const clients: pg.Client[] = []
async function connect(url: string, queryTimeoutMs = 2_000): Promise<pg.Client> {
  const client = new pg.Client({
    connectionString: url,
    query_timeout: queryTimeoutMs,
    connectionTimeoutMillis: 5_000,
  })
  client.on('error', () => {})
  clients.push(client)
  await client.connect()
  return client
}
afterEach(async () => {
  await Promise.allSettled(clients.splice(0).map((c) => c.end()))
})

describe('startPostgres', () => {
  const postgres = useServer(() => startPostgres())

  test('serves a real client on a loopback port that is not 5432', async (ctx) => {
    skipIfExternal(ctx, postgres())
    expect(postgres().port).not.toBe(5432)
    expect(postgres().url).toBe(`postgres://postgres@127.0.0.1:${postgres().port}/postgres`)
    const client = await connect(postgres().url)
    const { rows } = await client.query(
      'select pg_try_advisory_lock(42) as granted, current_setting($1) as port',
      ['port'],
    )
    expect(rows[0]).toEqual({ granted: true, port: String(postgres().port) })
  })

  test('is unreachable while paused and answers again after resume', async (ctx) => {
    skipIfExternal(ctx, postgres())
    const client = await connect(postgres().url, 1_000)
    await client.query('select 1')
    await postgres().pause()
    try {
      await expect(client.query('select 1')).rejects.toThrow(/timeout/i)
    } finally {
      await postgres().resume()
    }
    const after = await connect(postgres().url)
    expect((await after.query('select 1 as one')).rows[0]).toEqual({ one: 1 })
  })

  test('restart() keeps port and data; kill() ends every session', async (ctx) => {
    skipIfExternal(ctx, postgres())
    const client = await connect(postgres().url)
    await client.query('create table if not exists survives (v int)')
    await client.query('insert into survives values (7)')
    await postgres().restart()
    const after = await connect(postgres().url)
    expect((await after.query('select v from survives')).rows).toEqual([{ v: 7 }])
    await postgres().kill()
    await expect(after.query('select 1')).rejects.toThrow()
    await postgres().restart()
    expect(
      (await (await connect(postgres().url)).query('select count(*)::int as n from survives'))
        .rows[0],
    ).toEqual({ n: 1 })
  })
})

describe('startPostgres({ password })', () => {
  const postgres = useServer(() => startPostgres({ password: "s3cret'pw" }))

  test('requires the password over TCP (scram)', async (ctx) => {
    skipIfExternal(ctx, postgres())
    expect(postgres().url).toBe(
      `postgres://postgres:s3cret'pw@127.0.0.1:${postgres().port}/postgres`,
    )
    const client = await connect(postgres().url)
    expect((await client.query('select 1 as one')).rows[0]).toEqual({ one: 1 })
    const wrong = `postgres://postgres:nope@127.0.0.1:${postgres().port}/postgres`
    await expect(connect(wrong)).rejects.toThrow(/password authentication failed/)
  })
})
