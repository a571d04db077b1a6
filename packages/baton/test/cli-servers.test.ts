import { rmSync } from 'node:fs'
import type { ServerHandle } from '@baton-lock/test-matrix'
import { startPostgres, startRedis } from '@baton-lock/test-matrix'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildCli, expectSerialRuns, runCli, tempDir } from './cli-harness.js'

// `baton run` and `baton demo` against real servers started by the test matrix on free
// loopback ports (never the machine's own services).
const dir = tempDir()

beforeAll(() => buildCli(['packages/redis', 'packages/postgres']), 180_000)
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const BACKENDS: ReadonlyArray<readonly [string, () => Promise<ServerHandle>]> = [
  ['redis', () => startRedis()],
  ['postgres', () => startPostgres()],
]

for (const [name, start] of BACKENDS) {
  describe(`baton CLI on ${name}`, () => {
    let server: ServerHandle
    beforeAll(async () => {
      server = await start()
    }, 120_000)
    afterAll(async () => {
      await server?.stop()
    })

    it('baton run: concurrent runs never overlap, fences increase', async () => {
      const events = await expectSerialRuns(server.url, `cli-${name}`, dir)
      for (const [i, e] of events.entries()) {
        if (e[0] === 'end') expect(events[i - 1]?.[2], 'end matches its start').toBe(e[2])
      }
    })

    it('baton demo: every check holds, lost updates: 0', async () => {
      const r = await runCli(
        ['demo', '--url', server.url, '--workers', '3', '--increments', '30'],
        dir,
      )
      expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0)
      expect(r.stdout).toMatch(/strictly increasing: yes/)
      expect(r.stdout).toMatch(/final counter\s+90 \(expected 90\)\s+ok/)
      expect(r.stdout).toMatch(/lost updates: 0\n/)
      const status = await runCli(['status', 'baton:demo', '--url', server.url, '--json'], dir)
      expect(status.code, status.stderr).toBe(1) // free: exit 1 (documented since `baton lock`)
      expect(JSON.parse(status.stdout)).toEqual({ key: 'baton:demo', held: false })
    })
  })
}
