import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs'
import { join, resolve } from 'node:path'

/** Root of the monorepo. */
export const repoRoot = resolve(import.meta.dirname, '../..')

/**
 * Test helper: child processes run plain Node, so they load the BUILT packages (dist/). Rebuilds each
 * package (with the workspace's tsc) whose dist is missing or older than its sources.
 * `pnpm test` builds everything first, so there this only checks. A mkdir lock keeps
 * two test files from writing the same dist at once.
 */
export function ensureBuilt(packageDirs: readonly string[]): void {
  const stale = packageDirs.filter((dir) => isStale(join(repoRoot, dir)))
  if (stale.length === 0) return
  withBuildLock(() => {
    for (const dir of packageDirs) {
      const abs = join(repoRoot, dir)
      if (!isStale(abs)) continue
      try {
        execFileSync(
          process.execPath,
          [
            join(repoRoot, 'node_modules/typescript/bin/tsc'),
            '-p',
            join(abs, 'tsconfig.build.json'),
          ],
          { cwd: repoRoot, stdio: 'pipe', timeout: 120_000 },
        )
      } catch (err) {
        // tsc emits despite type errors (e.g. another package mid-edit): go on if it did.
        const output = String((err as { stdout?: unknown }).stdout ?? err)
        if (isStale(abs)) throw new Error(`building ${dir} failed:\n${output}`)
        console.warn(`ensureBuilt: ${dir} built with type errors:\n${output}`)
      }
    }
  })
}

function isStale(dir: string): boolean {
  const dist = join(dir, 'dist')
  if (!existsSync(join(dist, 'index.js'))) return true
  return newestMtimeMs(join(dir, 'src'), '.ts') > newestMtimeMs(dist, '.js')
}

function newestMtimeMs(dir: string, ext: string): number {
  let newest = 0
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !entry.name.endsWith(ext)) continue
    newest = Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs)
  }
  return newest
}

function withBuildLock(fn: () => void): void {
  const lockDir = join(repoRoot, 'node_modules/.cache/baton-test-build.lock')
  mkdirSync(join(lockDir, '..'), { recursive: true })
  const deadlineMs = performance.now() + 180_000
  for (;;) {
    try {
      mkdirSync(lockDir)
      break
    } catch {
      // A lock older than 3 minutes belongs to a build that died. (It may vanish meanwhile.)
      if (lockAgeMs(lockDir) > 180_000) rmSync(lockDir, { recursive: true, force: true })
      if (performance.now() > deadlineMs) throw new Error(`timed out waiting for ${lockDir}`)
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100)
    }
  }
  try {
    fn()
  } finally {
    rmSync(lockDir, { recursive: true, force: true })
  }
}

function lockAgeMs(lockDir: string): number {
  try {
    return Date.now() - statSync(lockDir).mtimeMs
  } catch {
    return 0
  }
}
