import { randomBytes } from 'node:crypto'
import pg from 'pg'

/** A fresh 32-hex owner id, as core makes them. */
export function ownerId(): string {
  return randomBytes(16).toString('hex')
}

/** A plain `pg` client outside the driver, as an operator's psql would be. */
export async function rawClient(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url })
  client.on('error', () => {})
  await client.connect()
  return client
}

/** Backend pids holding the advisory lock derived (in SQL) from `key`. */
export async function holdersInSql(client: pg.Client, key: string): Promise<number[]> {
  const { rows } = await client.query<{ pid: number }>(
    `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1
       AND ((classid::bigint << 32) | objid::bigint) = ('x' || substr(md5(convert_to($1, 'UTF8')), 1, 16))::bit(64)::bigint`,
    [key],
  )
  return rows.map((r) => r.pid)
}

/** Polls `condition` every 20 ms until it holds or `timeoutMs` passes. */
export async function until(condition: () => Promise<boolean> | boolean, timeoutMs = 10_000) {
  const start = performance.now()
  while (!(await condition())) {
    if (performance.now() - start > timeoutMs)
      throw new Error(`condition not met in ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

/** The value, or a failed test when it is null or undefined. */
export function must<T>(value: T | null | undefined): T {
  if (value === null || value === undefined) throw new Error('expected a value, got none')
  return value
}
