import pg from 'pg'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { type ServerHandle, startPostgres } from '../src/index.js'

describe('startPostgres', () => {
  let postgres: ServerHandle
  beforeAll(async () => {
    postgres = await startPostgres()
  })
  afterAll(async () => {
    await postgres?.stop()
  })

  test('serves a real client on a loopback port that is not 5432', async () => {
    expect(postgres.port).not.toBe(5432)
    expect(postgres.url).toBe(`postgres://postgres@127.0.0.1:${postgres.port}/postgres`)
    const client = new pg.Client({ connectionString: postgres.url })
    await client.connect()
    try {
      const { rows } = await client.query(
        'select pg_try_advisory_lock(42) as granted, current_setting($1) as port',
        ['port'],
      )
      expect(rows[0]).toEqual({ granted: true, port: String(postgres.port) })
    } finally {
      await client.end()
    }
  })
})
