import { existsSync } from 'node:fs'
import { mkdir, open, readFile, rename, rm, unlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { registerDir, unregisterDir } from './cleanup-registry.js'
import { harnessTmpdir } from './server-dir.js'

/** Where prepared data directories live between runs: one per backend version and owner. */
export function templateRoot(): string {
  return join(harnessTmpdir(), 'baton-test-matrix-templates')
}
const COMPLETE = '.complete'

/**
 * Returns the directory of a prepared template (e.g. an initdb'd PostgreSQL cluster), building it
 * once per machine: concurrent test workers take a lock file, the first one builds into a scratch
 * directory and renames it into place, the others wait for it. A lock left by a dead process is
 * taken over. Servers copy the template instead of running initdb each time.
 */
export async function preparedTemplate(
  key: string,
  build: (dir: string) => Promise<void>,
  timeoutMs = 180_000,
): Promise<string> {
  const dir = join(templateRoot(), key)
  if (existsSync(join(dir, COMPLETE))) return dir
  await mkdir(templateRoot(), { recursive: true })
  const lock = `${dir}.lock`
  const deadline = performance.now() + timeoutMs
  while (performance.now() < deadline) {
    if (existsSync(join(dir, COMPLETE))) return dir
    if (await takeLock(lock)) {
      try {
        if (existsSync(join(dir, COMPLETE))) return dir
        const scratch = `${dir}.building-${process.pid}`
        await rm(scratch, { recursive: true, force: true })
        await rm(dir, { recursive: true, force: true })
        await mkdir(scratch, { recursive: true })
        registerDir(scratch) // removed at exit if this process dies mid-build
        try {
          await build(scratch)
          await writeFile(join(scratch, COMPLETE), `${new Date().toISOString()}\n`)
          await rename(scratch, dir)
        } catch (error) {
          await rm(scratch, { recursive: true, force: true })
          throw error
        } finally {
          unregisterDir(scratch)
        }
        return dir
      } finally {
        await unlink(lock).catch(() => {})
      }
    }
    await sleep(100)
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for template ${dir} (lock ${lock})`)
}

async function takeLock(lock: string): Promise<boolean> {
  try {
    const file = await open(lock, 'wx')
    await file.writeFile(String(process.pid))
    await file.close()
    return true
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
  }
  // Someone holds the lock: take it over if its process is gone.
  const holder = Number(await readFile(lock, 'utf8').catch(() => ''))
  if (holder > 0 && !processAlive(holder)) await unlink(lock).catch(() => {})
  return false
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}
