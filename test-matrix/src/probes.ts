import { request } from 'node:http'
import { connect } from 'node:net'

/**
 * Connects, writes `payload` (if any) and collects the reply until `done(reply)` is true,
 * the peer closes, or `timeoutMs` passes. Resolves the bytes received (possibly none).
 */
export function exchange(
  host: string,
  port: number,
  payload: Buffer | string | undefined,
  done: (reply: Buffer) => boolean,
  timeoutMs = 1_000,
): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    const socket = connect({ host, port })
    const finish = () => {
      clearTimeout(timer)
      socket.destroy()
      resolve(Buffer.concat(chunks))
    }
    const timer = setTimeout(finish, timeoutMs)
    socket.once('connect', () => {
      if (payload !== undefined) socket.write(payload)
    })
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk)
      if (done(Buffer.concat(chunks))) finish()
    })
    socket.once('error', finish)
    socket.once('close', finish)
  })
}

/** Redis answers PING with +PONG (after AUTH when a password is set). */
export async function redisReady(host: string, port: number, password?: string): Promise<boolean> {
  const auth = password === undefined ? '' : `AUTH ${JSON.stringify(password)}\r\n`
  const reply = await exchange(host, port, `${auth}PING\r\n`, (r) => r.includes('+PONG'))
  return reply.includes('+PONG')
}

/**
 * PostgreSQL: a StartupMessage answered by an Authentication ('R') message means the server
 * accepts sessions; while starting up or recovering it answers with an ErrorResponse ('E').
 */
export async function postgresReady(host: string, port: number): Promise<boolean> {
  const params = Buffer.from('user\0postgres\0database\0postgres\0\0')
  const startup = Buffer.alloc(8 + params.length)
  startup.writeInt32BE(startup.length, 0)
  startup.writeInt32BE(196608, 4) // protocol 3.0
  params.copy(startup, 8)
  const reply = await exchange(host, port, startup, (r) => r.length > 0)
  return reply[0] === 0x52 // 'R'
}

/** MySQL/MariaDB: the server greets every connection with a v10 handshake once it serves. */
export async function mysqlReady(host: string, port: number): Promise<boolean> {
  const reply = await exchange(host, port, undefined, (r) => r.length >= 5)
  return reply.length >= 5 && reply[4] === 0x0a
}

/** etcd: GET /health is {"health":"true"} once the member has a leader and serves. */
export function etcdReady(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host, port, path: '/health', timeout: 1_000 }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        body += chunk
      })
      res.on('end', () => resolve(res.statusCode === 200 && body.includes('"true"')))
      res.on('error', () => resolve(false))
    })
    req.on('timeout', () => req.destroy())
    req.on('error', () => resolve(false))
    req.end()
  })
}

/**
 * A ZooKeeper four-letter word's reply (`srvr`, `stat`, `mntr`), read until the server
 * closes; '' when it does not answer within `timeoutMs`.
 */
export async function fourLetterWord(
  host: string,
  port: number,
  word: string,
  timeoutMs = 2_000,
): Promise<string> {
  return (await exchange(host, port, word, () => false, timeoutMs)).toString()
}

/** ZooKeeper: the `srvr` four-letter word reports "Mode:" only while the server serves requests. */
export async function zookeeperReady(host: string, port: number): Promise<boolean> {
  const reply = await exchange(host, port, 'srvr', () => false)
  return reply.includes('Mode: ')
}
