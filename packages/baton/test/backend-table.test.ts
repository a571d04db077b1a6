import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { ensureBuilt, repoRoot } from '@baton-lock/test-matrix'
import { expect, test } from 'vitest'

const run = promisify(execFile)
const DRIVERS = ['core', 'sqlite', 'redis', 'postgres', 'mysql', 'etcd', 'zookeeper']

test("README's backend table is the one the drivers' capabilities generate", async () => {
  ensureBuilt(DRIVERS.map((d) => `packages/${d}`))
  const result = await run(
    process.execPath,
    [join(repoRoot, 'scripts/backend-table.mjs'), '--check'],
    {
      cwd: repoRoot,
    },
  ).then(
    () => 'in sync',
    (err: { stderr?: string }) => String(err.stderr),
  )
  expect(result).toBe('in sync')
}, 180_000)
