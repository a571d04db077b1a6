import type { ChildProcess } from 'node:child_process'
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ensureBuilt, repoRoot } from '@baton-lock/test-matrix'
import { expect } from 'vitest'

/** The built binary, run as a user would: `node packages/baton/dist/cli.js`. */
export const CLI = join(repoRoot, 'packages/baton/dist/cli.js')

/** Builds core, sqlite and baton if their dist is missing or stale (and `extra` packages). */
export function buildCli(extra: readonly string[] = []): void {
  ensureBuilt(['packages/core', 'packages/sqlite', ...extra, 'packages/baton'])
}

/** A fresh temporary directory (the working directory of the spawned CLI). */
export function tempDir(prefix = 'baton-cli-'): string {
  return mkdtempSync(join(tmpdir(), prefix))
}

/** What a finished CLI run left behind. */
export interface CliResult {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
  readonly elapsedMs: number
}

/** A CLI process still running, with its output so far. */
export interface CliProcess {
  readonly child: ChildProcess
  readonly done: Promise<CliResult>
  stdout(): string
  stderr(): string
}

/**
 * Starts `baton ...args` in `cwd`; BATON_URL is cleared unless given in `env`. Stdin is
 * /dev/null unless `stdin` is 'pipe' (then `child.stdin` is baton's stdin, for `baton lock`).
 */
export function startCli(
  args: readonly string[],
  cwd: string,
  env: NodeJS.ProcessEnv = {},
  stdin: 'ignore' | 'pipe' = 'ignore',
): CliProcess {
  const startMs = performance.now()
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd,
    env: { ...process.env, BATON_URL: '', BATON_DEBUG: '', ...env },
    stdio: [stdin, 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString()
  })
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString()
  })
  const done = new Promise<CliResult>((resolve, reject) => {
    child.once('error', reject)
    child.once('close', (code, signal) =>
      resolve({ code, signal, stdout, stderr, elapsedMs: performance.now() - startMs }),
    )
  })
  return { child, done, stdout: () => stdout, stderr: () => stderr }
}

/** Runs `baton ...args` to completion; kills it (and fails) after `timeoutMs`. */
export async function runCli(
  args: readonly string[],
  cwd: string,
  env: NodeJS.ProcessEnv = {},
  timeoutMs = 60_000,
): Promise<CliResult> {
  const proc = startCli(args, cwd, env)
  const timer = setTimeout(() => proc.child.kill('SIGKILL'), timeoutMs)
  try {
    return await proc.done
  } finally {
    clearTimeout(timer)
  }
}

/** Polls `condition` every 20 ms until it is truthy or `timeoutMs` passes. */
export async function waitUntil<T>(
  condition: () => T | Promise<T>,
  timeoutMs: number,
  what: string,
): Promise<T> {
  const deadlineMs = performance.now() + timeoutMs
  for (;;) {
    const value = await condition()
    if (value) return value
    if (performance.now() > deadlineMs)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/**
 * Starts three `baton run NAME --url URL -- node hold.mjs LOG 100` at once and checks
 * that their holds never overlapped (strictly alternating start/end in the shared log)
 * and that fences increased. Returns the log's events (`[start|end, pid, fence]`).
 */
export async function expectSerialRuns(
  url: string,
  name: string,
  dir: string,
): Promise<string[][]> {
  const log = join(dir, `${name}-overlap.log`)
  writeFileSync(log, '')
  const hold = new URL('./fixtures/hold.mjs', import.meta.url).pathname
  const results = await Promise.all(
    Array.from({ length: 3 }, () =>
      runCli(['run', name, '--url', url, '--', process.execPath, hold, log, '100'], dir),
    ),
  )
  for (const r of results) expect(r.code, r.stderr).toBe(0)
  const events = readFileSync(log, 'utf8')
    .trim()
    .split('\n')
    .map((line) => line.split(' '))
  expect(events.map((e) => e[0])).toEqual(['start', 'end', 'start', 'end', 'start', 'end'])
  const fences = events.filter((e) => e[0] === 'start').map((e) => BigInt(e[2] as string))
  for (let i = 1; i < fences.length; i++) {
    expect(fences[i] as bigint).toBeGreaterThan(fences[i - 1] as bigint)
  }
  return events
}
