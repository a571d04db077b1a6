import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type ServerHandle, startPostgres } from '@baton-lock/test-matrix'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { FileStore } from '../src/harness/file-store.js'
import { createPostgresStore, postgresStoreEntries } from '../src/harness/pg-store.js'
import type { StoreEntry } from '../src/history.js'

// Both fenced stores the suite writes to, driven directly: the fence a read presents refuses
// every lower fence's later write, so a holder stopped between its check and its write cannot
// overwrite what a newer holder read.

interface Store {
  read(fence: number): Promise<{ value: number; fence: string }>
  write(fence: number, client: string, readValue: number): Promise<boolean>
  entries(): Promise<StoreEntry[]>
}

const cases: { name: string; open: () => Promise<Store> }[] = []

let dir: string
let fileStore: FileStore
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'baton-fenced-store-'))
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))
cases.push({
  name: 'file',
  open: async () => {
    fileStore = new FileStore(join(dir, `store-${Date.now()}-${Math.random()}.jsonl`))
    return {
      read: async (fence) => fileStore.read(String(fence)),
      write: async (fence, client, readValue) =>
        fileStore.write({
          fence: String(fence),
          client,
          clientOp: 1,
          readValue,
          value: readValue + 1,
        }),
      entries: async () => fileStore.entries(),
    }
  },
})

let server: ServerHandle
let client: pg.Client
beforeAll(async () => {
  server = await startPostgres()
  client = new pg.Client({ connectionString: server.url })
  await client.connect()
}, 120_000)
afterAll(async () => {
  await client?.end()
  await server?.stop()
})
cases.push({
  name: 'postgres',
  open: async () => {
    await createPostgresStore(server.url)
    return {
      read: async (fence) => {
        // the client's own statement (store-client.ts)
        const { rows } = await client.query(
          'SELECT value, fence::text AS fence FROM faults_read($1)',
          [String(fence)],
        )
        return { value: Number(rows[0].value), fence: String(rows[0].fence) }
      },
      write: async (fence, c, readValue) => {
        const { rows } = await client.query('SELECT faults_write($1, $2, $3, $4, $5) AS accepted', [
          String(fence),
          c,
          1,
          readValue,
          readValue + 1,
        ])
        return rows[0].accepted === true
      },
      entries: () => postgresStoreEntries(server.url),
    }
  },
})

describe.each(cases)('the $name fenced store', ({ open }) => {
  test("a newer holder's read refuses an older holder's write; its own write then builds on the value", async () => {
    const store = await open()
    expect(await store.read(1)).toEqual({ value: 0, fence: '0' })
    expect(await store.write(1, 'a', 0)).toBe(true)
    // a (fence 2) reads, then stops; b (fence 3) reads; a's write comes after b's read
    expect((await store.read(2)).value).toBe(1)
    expect((await store.read(3)).value).toBe(1)
    expect(await store.write(2, 'a', 1)).toBe(false)
    expect(await store.write(3, 'b', 1)).toBe(true)
    // a late reader's lower fence lowers nothing
    expect(await store.read(2)).toEqual({ value: 2, fence: '3' })
    expect(await store.write(2, 'a', 2)).toBe(false)
    // the same fence twice: only the first write
    expect(await store.write(3, 'b', 2)).toBe(false)
    expect(
      (await store.entries()).map((e) => [e.client, e.fence, e.accepted, e.lastFence, e.seenFence]),
    ).toEqual([
      ['a', '1', true, '0', '1'],
      ['a', '2', false, '1', '3'],
      ['b', '3', true, '1', '3'],
      ['a', '2', false, '3', '3'],
      ['b', '3', false, '3', '3'],
    ])
  })
  test('a stopped holder whose write comes before the newer holder reads is accepted, and the newer holder builds on it', async () => {
    const store = await open()
    expect((await store.read(1)).value).toBe(0)
    // b (fence 2) was granted but has not reached the store yet
    expect(await store.write(1, 'a', 0)).toBe(true)
    expect(await store.read(2)).toEqual({ value: 1, fence: '1' })
    expect(await store.write(2, 'b', 1)).toBe(true)
    expect((await store.entries()).map((e) => [e.fence, e.accepted, e.seenFence])).toEqual([
      ['1', true, '1'],
      ['2', true, '2'],
    ])
  })
})
