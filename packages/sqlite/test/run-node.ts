import { spawn } from 'node:child_process'
import { chmodSync, copyFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'

/** What a child Node process left behind. */
export interface NodeResult {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
  /** True when it was killed for running past the timeout. */
  readonly timedOut: boolean
}

/** How `runNode` starts the child. */
export interface RunNodeOptions {
  /** Killed (SIGKILL) after this many ms, so that a hang fails the test instead of the suite. */
  readonly timeoutMs: number
  /** Run as this user and group (needs root), e.g. to see what a user without write access sees. */
  readonly uid?: number
  readonly gid?: number
  readonly env?: NodeJS.ProcessEnv
}

/**
 * Runs an ES module `script` (source text) in a separate Node process, this test's own
 * Node binary, with `args` as `process.argv.slice(1)` (`-e` has no script path), in
 * the temporary directory.
 */
export function runNode(
  script: string,
  args: readonly string[],
  options: RunNodeOptions,
): Promise<NodeResult> {
  // Another user may not reach this Node or its native binding (the Node matrix keeps them
  // under /root/.cache): give that user world-readable copies of both.
  const runAs = options.uid === undefined ? undefined : runnableCopies()
  const env = { ...process.env, ...options.env }
  if (runAs !== undefined && env.BATON_SQLITE_NATIVE_BINDING) {
    env.BATON_SQLITE_NATIVE_BINDING = runAs.copy(env.BATON_SQLITE_NATIVE_BINDING)
  }
  const node = runAs === undefined ? process.execPath : runAs.copy(process.execPath)
  return new Promise((resolve, reject) => {
    const child = spawn(node, ['--input-type=module', '-e', script, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      cwd: tmpdir(),
      env,
      ...(options.uid === undefined ? {} : { uid: options.uid }),
      ...(options.gid === undefined ? {} : { gid: options.gid }),
    })
    let stdout = ''
    let stderr = ''
    let timedOut = false
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString()
    })
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    const timer = setTimeout(() => {
      timedOut = true
      child.kill('SIGKILL')
    }, options.timeoutMs)
    child.once('error', (err) => {
      clearTimeout(timer)
      reject(err)
    })
    child.once('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr, timedOut })
    })
  })
}

let copies: { dir: string; copy(file: string): string } | undefined

/** Copies files into one world-readable temporary directory, once per file. */
function runnableCopies(): { dir: string; copy(file: string): string } {
  if (copies !== undefined) return copies
  const dir = mkdtempSync(join(tmpdir(), 'baton-run-as-'))
  chmodSync(dir, 0o755)
  const done = new Map<string, string>()
  copies = {
    dir,
    copy(file) {
      let target = done.get(file)
      if (target === undefined) {
        target = join(dir, `${done.size}-${basename(file)}`)
        copyFileSync(file, target)
        chmodSync(target, 0o755)
        done.set(file, target)
      }
      return target
    },
  }
  return copies
}

/** Removes the copies `runNode` made for another user (call it in `afterAll`). */
export function removeRunnableCopies(): void {
  if (copies !== undefined) rmSync(copies.dir, { recursive: true, force: true })
  copies = undefined
}

/** The built package, for child processes (they cannot load the TypeScript sources). */
export const BUILT_SQLITE = new URL('../dist/index.js', import.meta.url).href

/**
 * A child script that opens `argv[2]` with binding `argv[3]` ('default' for none) and
 * prints one JSON line: `{ ok, binding }` or the error's `{ name, code, message, cause }`.
 */
export const OPEN_SCRIPT = `
import { SqliteDriver } from ${JSON.stringify(BUILT_SQLITE)}
const [path, binding] = process.argv.slice(1)
try {
  const driver = new SqliteDriver({ path, ...(binding === 'default' ? {} : { binding }) })
  console.log(JSON.stringify({ ok: true, binding: driver.binding }))
  await driver.close()
} catch (err) {
  const cause = err.cause instanceof Error ? err.cause.message : undefined
  console.log(JSON.stringify({ ok: false, name: err.name, code: err.code, message: err.message, cause }))
}
`

/** The JSON line `OPEN_SCRIPT` printed, or a description of what went wrong instead. */
export function openOutcome(result: NodeResult): Record<string, unknown> {
  if (result.timedOut) return { timedOut: true, stderr: result.stderr }
  try {
    return JSON.parse(result.stdout.trim().split('\n').at(-1) ?? '') as Record<string, unknown>
  } catch {
    return { unparsable: result.stdout, stderr: result.stderr, code: result.code }
  }
}
