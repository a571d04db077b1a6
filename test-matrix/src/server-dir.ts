import { accessSync, constants, statfsSync } from 'node:fs'
import { chown, mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

let shmUsable: boolean | undefined

/**
 * Where server directories and templates go: BATON_TEST_MATRIX_TMPDIR if set; else /dev/shm
 * when it is a writable tmpfs with at least 1 GiB free (copying a data directory there takes
 * tens of milliseconds, on a busy disk seconds); else os.tmpdir(). When the harness runs as
 * root, the `postgres` and `mysql` accounts must be able to traverse that directory.
 */
export function harnessTmpdir(): string {
  const override = process.env.BATON_TEST_MATRIX_TMPDIR
  if (override) return override
  shmUsable ??= (() => {
    try {
      accessSync('/dev/shm', constants.W_OK)
      const fs = statfsSync('/dev/shm')
      return fs.bavail * fs.bsize >= 1024 ** 3
    } catch {
      return false
    }
  })()
  return shmUsable ? '/dev/shm' : tmpdir()
}

/** A fresh temp directory for one server, optionally owned by the account the server runs as. */
export async function makeServerDir(
  backend: string,
  owner?: { uid: number; gid: number },
): Promise<string> {
  const dir = await mkdtemp(join(harnessTmpdir(), `baton-tm-${backend}-`))
  if (owner) await chown(dir, owner.uid, owner.gid)
  return dir
}
