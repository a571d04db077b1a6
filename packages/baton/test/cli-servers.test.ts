import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { ServerHandle } from '@baton-lock/test-matrix'
import { startPostgres, startRedis } from '@baton-lock/test-matrix'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildCli, runCli, tempDir } from './cli-harness.js'

// `baton run` and `baton demo` against real servers started by the test matrix on free
// loopback ports (never the machine's own services).
const dir = tempDir()
const fixture = (name: string) => new URL(`./fixtures/${name}`, import.meta.url).pathname

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
      const log = join(dir, `${name}-overlap.log`)
      writeFileSync(log, '')
      const results = await Promise.all(
        Array.from({ length: 3 }, () =>
          runCli(
            [
              'run',
              `cli-${name}`,
              '--url',
              server.url,
              '--',
              process.execPath,
              fixture('hold.mjs'),
              log,
              '100',
            ],
            dir,
          ),
        ),
      )
      for (const r of results) expect(r.code, r.stderr).toBe(0)
      const events = readFileSync(log, 'utf8')
        .trim()
        .split('\n')
        .map((line) => line.split(' '))
      // Strictly alternating start/end with one fence per hold, fences increasing.
      expect(events.map((e) => e[0])).toEqual(['start', 'end', 'start', 'end', 'start', 'end'])
      const fences = events.filter((e) => e[0] === 'start').map((e) => BigInt(e[2] as string))
      for (let i = 1; i < fences.length; i++) {
        expect(fences[i] as bigint).toBeGreaterThan(fences[i - 1] as bigint)
      }
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
