import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ensureBuilt } from '@baton-lock/test-matrix'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TEST_BINDINGS } from './bindings.js'

const PROCESSES = 4
const INCREMENTS = 25
const dir = mkdtempSync(join(tmpdir(), 'baton-sqlite-mp-'))

beforeAll(() => ensureBuilt(['packages/core', 'packages/sqlite']), 180_000)
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function runWorker(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const worker = new URL('./fixtures/contend-worker.mjs', import.meta.url).pathname
    const child = spawn(process.execPath, [worker, ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    let stderr = ''
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    child.on('error', reject)
    child.on('exit', (code) => resolve({ code, stderr }))
  })
}

describe('exclusion across separate processes', () => {
  // Where both bindings exist, processes alternate between them on the one file.
  const bindings = Array.from(
    { length: PROCESSES },
    (_, i) => TEST_BINDINGS[i % TEST_BINDINGS.length] as string,
  )
  it(`${PROCESSES} processes (${bindings.join(', ')}) x ${INCREMENTS} fenced increments: exact count, fences strictly increasing`, async () => {
    const db = join(dir, 'locks.db')
    const counter = join(dir, 'counter.json')
    const log = join(dir, 'log.txt')
    writeFileSync(counter, JSON.stringify({ count: 0 }))
    writeFileSync(log, '')

    const results = await Promise.all(
      bindings.map((binding) => runWorker([db, counter, log, String(INCREMENTS), binding])),
    )
    for (const result of results) expect(result, result.stderr).toMatchObject({ code: 0 })

    const total = PROCESSES * INCREMENTS
    expect(JSON.parse(readFileSync(counter, 'utf8'))).toEqual({ count: total })
    const lines = readFileSync(log, 'utf8').trim().split('\n')
    expect(lines).toHaveLength(total)
    const fences = lines.map((line) => BigInt(line.split(' ')[0] as string))
    const counts = lines.map((line) => Number(line.split(' ')[1]))
    expect(counts).toEqual(Array.from({ length: total }, (_, i) => i + 1))
    for (let i = 1; i < fences.length; i++) {
      expect(fences[i] as bigint, `fence at write ${i + 1}`).toBeGreaterThan(
        fences[i - 1] as bigint,
      )
    }
    // Every process got turns (the queue grants in arrival order, so nobody starves).
    expect(new Set(lines.map((line) => line.split(' ')[2])).size).toBe(PROCESSES)
  }, 120_000)
})
