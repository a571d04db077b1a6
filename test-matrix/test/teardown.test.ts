import { spawn } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import ts from 'typescript'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { eventually } from './helpers.js'

// The harness must leave no server and no temp directory behind, however the process that
// started them ends. A child Node process runs the harness (transpiled to plain JS), starts
// Redis and PostgreSQL, reports their process trees and directories, and is then ended.
const srcDir = new URL('../src/', import.meta.url).pathname
const outDir = new URL('../.cache/teardown-dist/', import.meta.url).pathname

beforeAll(async () => {
  await rm(outDir, { recursive: true, force: true })
  await mkdir(outDir, { recursive: true })
  for (const file of readdirSync(srcDir).filter((f) => f.endsWith('.ts') && f !== 'vitest.ts')) {
    const source = await readFile(join(srcDir, file), 'utf8')
    const { outputText } = ts.transpileModule(source, {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    })
    await writeFile(join(outDir, file.replace(/\.ts$/, '.js')), outputText)
  }
  await writeFile(join(outDir, 'package.json'), '{ "type": "module" }\n')
  await writeFile(
    join(outDir, 'child.js'),
    `import { startRedis, startPostgres } from './index.js'
import { processTree } from './process-tree.js'
const servers = [await startRedis(), await startPostgres()]
const report = {
  node: process.pid,
  leaders: servers.map((s) => s.pid),
  pids: servers.flatMap((s) => processTree(s.pid)),
  dirs: servers.map((s) => s.dir),
}
console.log(JSON.stringify(report))
if (process.argv[2] === 'exit') process.exit(0)
setInterval(() => {}, 1000)
`,
  )
})
afterAll(async () => {
  await rm(outDir, { recursive: true, force: true })
})

function alive(pid: number): boolean {
  try {
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ')
  } catch {
    return false
  }
}

async function startChild(mode: string) {
  // 'orphaned': the harness runs in a grandchild whose parent (a shell) is SIGKILLed, as a vitest
  // worker is when the vitest main process dies.
  const node = `${JSON.stringify(process.execPath)} ${JSON.stringify(join(outDir, 'child.js'))} ${mode}`
  const child =
    mode === 'orphaned'
      ? spawn('bash', ['-c', `${node}; true`], {
          stdio: ['ignore', 'pipe', 'inherit'],
          env: { ...process.env, BATON_TEST_MATRIX_WATCH_PARENT: '1' },
        })
      : spawn(process.execPath, [join(outDir, 'child.js'), mode], {
          stdio: ['ignore', 'pipe', 'inherit'],
        })
  const line = await new Promise<string>((resolve, reject) => {
    let out = ''
    child.stdout.setEncoding('utf8').on('data', (text: string) => {
      out += text
      if (out.includes('\n')) resolve(out.split('\n')[0] ?? '')
    })
    child.once('exit', (code) => reject(new Error(`child exited early (${code}): ${out}`)))
  })
  const report = JSON.parse(line) as {
    node: number
    leaders: number[]
    pids: number[]
    dirs: string[]
  }
  return { child, ...report }
}

describe('teardown', () => {
  test.each(['SIGKILL', 'SIGTERM', 'SIGINT', 'exit', 'orphaned'] as const)(
    'servers and temp dirs are gone after the parent ends by %s',
    async (mode) => {
      const { child, node, leaders, pids, dirs } = await startChild(mode)
      try {
        // redis-server, the postmaster and its auxiliary processes (each in its own session)
        expect(pids.length).toBeGreaterThan(3)
        if (mode !== 'exit') {
          expect(leaders.every(alive)).toBe(true)
          expect(dirs.every((dir) => existsSync(dir))).toBe(true)
          child.kill(mode === 'orphaned' ? 'SIGKILL' : mode)
        }
        await eventually(
          async () => !pids.some(alive) && !dirs.some((dir) => existsSync(dir)),
          10_000,
        )
      } finally {
        // the orphaned child lives on by design; any other only if an assertion failed
        for (const pid of [node, child.pid ?? 0])
          if (pid > 0 && alive(pid)) process.kill(pid, 'SIGKILL')
      }
    },
  )
})
