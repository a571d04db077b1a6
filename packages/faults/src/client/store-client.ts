import pg from 'pg'
import type { ClientConfig } from './client-config.js'
import { request } from './ipc.js'

/**
 * The client's view of the fenced store: read the counter with the handle's fence, write it back
 * with the same fence. The store takes the fence on both (a reader's fence refuses any lower
 * one's later write), as a read-modify-write must present its token on every access.
 */
export interface StoreClient {
  read(fence: bigint): Promise<{ value: number; fence: string }>
  /** True when accepted, false when the store refused the fence. */
  write(w: {
    fence: bigint
    readValue: number
    value: number
    client: string
    op: number
  }): Promise<boolean>
  close(): Promise<void>
}

export async function openStore(config: ClientConfig): Promise<StoreClient> {
  if (config.store.kind === 'file') return fileStore()
  return postgresStore(config.store.url)
}

/** The file store lives in the harness (one process owns the file); requests cross IPC. */
function fileStore(): StoreClient {
  return {
    read: (fence) => request({ kind: 'store', op: 'read', fence: String(fence) }),
    write: (w) =>
      request({
        kind: 'store',
        op: 'write',
        fence: String(w.fence),
        readValue: w.readValue,
        value: w.value,
        client: w.client,
        clientOp: w.op,
      }),
    close: async () => {},
  }
}

/** A PostgreSQL table; `faults_write` decides and logs in one statement (see `pg-store.ts`). */
async function postgresStore(url: string): Promise<StoreClient> {
  let client: pg.Client | undefined
  const connection = async () => {
    if (client) return client
    const next = new pg.Client({
      connectionString: url,
      connectionTimeoutMillis: 2_000,
      query_timeout: 3_000,
    })
    next.on('error', () => {
      if (client === next) client = undefined
    })
    await next.connect()
    client = next
    return next
  }
  const run = async <T>(fn: (c: pg.Client) => Promise<T>): Promise<T> => {
    const c = await connection()
    try {
      return await fn(c)
    } catch (err) {
      if (client === c) client = undefined
      await c.end().catch(() => undefined)
      throw err
    }
  }
  return {
    read: (fence) =>
      run(async (c) => {
        const { rows } = await c.query('SELECT value, fence::text AS fence FROM faults_read($1)', [
          String(fence),
        ])
        return { value: Number(rows[0].value), fence: String(rows[0].fence) }
      }),
    write: (w) =>
      run(async (c) => {
        const { rows } = await c.query('SELECT faults_write($1, $2, $3, $4, $5) AS accepted', [
          String(w.fence),
          w.client,
          w.op,
          w.readValue,
          w.value,
        ])
        return rows[0].accepted === true
      }),
    close: async () => {
      await client?.end().catch(() => undefined)
    },
  }
}
