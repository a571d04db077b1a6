import { request } from 'node:http'
import { connect } from 'node:net'
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

/** A ZooKeeper four-letter command's reply ('' when the server does not answer). */
export function fourLetter(host: string, port: number, command: string): Promise<string> {
  return new Promise((resolve) => {
    let text = ''
    const socket = connect({ host, port })
    const timer = setTimeout(() => socket.destroy(), 2_000)
    socket.once('connect', () => socket.write(command))
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString()
    })
    socket.once('error', () => undefined)
    socket.once('close', () => {
      clearTimeout(timer)
      resolve(text)
    })
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
