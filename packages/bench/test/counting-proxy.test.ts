import { describe, expect, it } from 'vitest'
import { FlightCounter, PgMessageCounter, RespCounter } from '../src/probes/counting-proxy.js'

const message = (type: string, body: Buffer = Buffer.alloc(0)) => {
  const header = Buffer.alloc(5)
  header.write(type, 0, 'latin1')
  header.writeInt32BE(body.length + 4, 1)
  return Buffer.concat([header, body])
}

describe('round-trip counters', () => {
  it('PgMessageCounter counts Query and Sync after the startup message, across chunk boundaries', () => {
    const startup = Buffer.alloc(16)
    startup.writeInt32BE(16, 0)
    startup.writeInt32BE(196608, 4)
    const stream = Buffer.concat([
      startup,
      message('Q', Buffer.from('SELECT 1\0')),
      message('P', Buffer.from('x'.repeat(40))),
      message('B', Buffer.from('yy')),
      message('E', Buffer.alloc(5)),
      message('S'),
      message('X'),
    ])
    const counter = new PgMessageCounter()
    for (let i = 0; i < stream.length; i += 3) counter.fromClient(stream.subarray(i, i + 3))
    expect(counter.roundTrips).toBe(2)
  })

  it('FlightCounter counts a pipelined burst once and each answered request again', () => {
    const counter = new FlightCounter()
    counter.fromClient()
    counter.fromClient()
    counter.fromServer()
    counter.fromClient()
    expect(counter.roundTrips).toBe(2)
  })

  it('RespCounter counts commands and script calls across chunk boundaries', () => {
    const resp = (...args: string[]) =>
      `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`
    const stream = Buffer.from(
      resp('evalsha', 'abc', '1', 'key', 'va\r\nlue') +
        resp('SET', 'k', 'v', 'NX') +
        resp('EVAL', 'return 1', '0') +
        'PING\r\n',
    )
    const counter = new RespCounter()
    for (let i = 0; i < stream.length; i += 5) counter.fromClient(stream.subarray(i, i + 5))
    expect(counter.commands).toBe(4)
    expect(counter.scripts).toBe(2)
    expect(counter.roundTrips).toBe(1)
    counter.fromServer()
    counter.fromClient(Buffer.from(resp('FCALL', 'f', '0')))
    expect(counter.scripts).toBe(3)
    expect(counter.roundTrips).toBe(2)
  })
})
