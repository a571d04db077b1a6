import { request } from 'node:http'
import pg from 'pg'

/** etcd's JSON gateway: POST `path` with `body` to one member. */
export function etcdJson(
  host: string,
  port: number,
  path: string,
  body: unknown = {},
): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path, method: 'POST', timeout: 2_000 }, (res) => {
      let text = ''
      res.on('data', (chunk: Buffer) => {
        text += chunk.toString()
      })
      res.on('end', () => {
        try {
          resolve(JSON.parse(text) as Record<string, unknown>)
        } catch (err) {
          reject(err)
        }
      })
    })
    req.on('timeout', () => req.destroy(new Error('etcd status timed out')))
    req.on('error', reject)
    req.end(JSON.stringify(body))
  })
}

/** Runs one query on a fresh connection; the rows. */
export async function pgRows(url: string, sql: string): Promise<Record<string, unknown>[]> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3_000 })
  await client.connect()
  try {
    return (await client.query(sql)).rows
  } finally {
    await client.end()
  }
}
