import { rmSync } from 'node:fs'
import type { Server, Socket } from 'node:net'
import { createServer } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildCli, runCli, tempDir } from './cli-harness.js'

// A backend that does not answer: the error line names the stage and the redacted URL,
// exit 7. A silent server accepts TCP connections and never says a word.
const dir = tempDir()
const PASSWORD = 'Sekr1t-pw-99'
let silent: Server
let port = 0
const sockets = new Set<Socket>()

beforeAll(async () => {
  buildCli(['packages/redis', 'packages/postgres'])
  silent = createServer((socket) => {
    sockets.add(socket)
    socket.on('error', () => undefined)
  })
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
  port = (silent.address() as { port: number }).port
}, 180_000)
afterAll(async () => {
  for (const socket of sockets) socket.destroy()
  await new Promise((resolve) => silent.close(resolve))
  rmSync(dir, { recursive: true, force: true })
})

describe('baton against a backend that does not answer', () => {
  it('a connect timeout names the stage (connect), the redacted URL and the time', async () => {
    const [redis, postgres] = await Promise.all([
      runCli(['status', 'k', '--url', `redis://:${PASSWORD}@127.0.0.1:${port}`], dir),
      runCli(['status', 'k', '--url', `postgres://u:${PASSWORD}@127.0.0.1:${port}/db`], dir),
    ])
    expect(redis.code, redis.stderr).toBe(7)
    expect(redis.stderr).toMatch(
      new RegExp(
        `^baton: connect to redis://:\\*\\*\\*@127\\.0\\.0\\.1:${port} failed after \\d+\\.\\d s: .+\\n$`,
      ),
    )
    expect(postgres.code, postgres.stderr).toBe(7)
    // A driver without ready() connects on first use: that operation is named as the
    // connect it also is ("(first use: inspect "k")"); with ready(), plain "connect to".
    expect(postgres.stderr).toMatch(
      new RegExp(
        `^baton: connect to postgres://u:\\*\\*\\*@127\\.0\\.0\\.1:${port}/db( \\(first use: inspect "k"\\))? failed after \\d+\\.\\d s: .*timeout expired\\n$`,
      ),
    )
    for (const r of [redis, postgres]) expect(`${r.stdout}${r.stderr}`).not.toContain(PASSWORD)
  })

  it('a refused connection names the stage of run and lock too, exit 7', async () => {
    const url = `postgres://u:${PASSWORD}@127.0.0.1:1/db`
    const run = await runCli(['run', 'k', '--url', url, '--', 'true'], dir)
    expect(run.code, run.stderr).toBe(7)
    expect(run.stderr).toMatch(
      /^baton: connect to postgres:\/\/u:\*\*\*@127\.0\.0\.1:1\/db( \(first use: acquire "k"\))? failed.*ECONNREFUSED/,
    )
    const lock = await runCli(['lock', 'k', '--url', `redis://127.0.0.1:1`], dir)
    expect(lock.code, lock.stderr).toBe(7)
    expect(lock.stderr).toMatch(/^baton: connect to redis:\/\/127\.0\.0\.1:1 failed.*ECONNREFUSED/)
  })
})
