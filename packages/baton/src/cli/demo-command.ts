import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runDemo } from '../demo/run-demo.js'
import type { CommandSpec } from './command-args.js'
import { parseCommandArgs, URL_OPTION } from './command-args.js'
import { EXIT } from './exit-codes.js'
import { checkLockName, openDriver, resolveUrl } from './open-backend.js'
import { parseDuration } from './parse-duration.js'
import { UsageError } from './usage-error.js'

export const demoSpec: CommandSpec = {
  name: 'demo',
  synopsis: 'demo',
  summary: 'worker processes contend for one lock around a shared counter',
  options: {
    ...URL_OPTION,
    workers: { type: 'string' },
    increments: { type: 'string' },
    ttl: { type: 'string' },
    key: { type: 'string' },
  },
  minPositionals: 0,
  maxPositionals: 0,
  help: `Usage: baton demo [--url URL] [--workers N] [--increments M]

Starts N worker processes that contend for one lock. Under the lock each does a
read-modify-write of a shared counter file that remembers the fence of its last write
and rejects a write with a lower one. Shows a live progress line, then a summary:
acquisitions per second, handoff latency p50/p99 (one holder's release to the next
holder's acquire), fences strictly increasing, final counter = N x M, lost updates: 0.

Options:
  --url URL         lock backend (default: $BATON_URL, else sqlite:.baton/locks.db,
                    a file under the current directory; memory: cannot be shared)
  --workers N       worker processes (default: 4)
  --increments M    increments per worker (default: 250)
  --ttl DUR         lease length (default: 10s)
  --key NAME        lock name (default: baton:demo)
  -h, --help        show this help

Exit codes: 0 every check passed, 2 usage error, 6 a check or a worker failed,
7 backend error.
`,
}

/** `baton demo`: the main job, on the embedded default unless --url says otherwise. */
export async function demoCommand(argv: readonly string[]): Promise<number> {
  const args = parseCommandArgs(demoSpec, argv)
  if (args === null) return EXIT.OK
  const { values } = args
  const workers = count('workers', values.workers, 4, 64)
  const increments = count('increments', values.increments, 250, 1_000_000)
  const ttlMs = parseDuration('ttl', typeof values.ttl === 'string' ? values.ttl : '10s', {
    minMs: 100,
  })
  const key = checkLockName(typeof values.key === 'string' ? values.key : 'baton:demo')
  const url = resolveUrl(values.url)
  if (url.scheme === 'memory') {
    throw new UsageError(
      'memory: locks live in one process; the demo needs a backend its workers share',
    )
  }
  // Open the backend once here: a bad URL or a missing driver fails before any fork.
  await (await openDriver(url)).close()

  const dir = mkdtempSync(join(tmpdir(), 'baton-demo-'))
  try {
    const ok = await runDemo({
      url,
      key,
      workers,
      increments,
      ttlMs,
      counterPath: join(dir, 'counter.json'),
    })
    return ok ? EXIT.OK : EXIT.CHECK_FAILED
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

function count(
  flag: string,
  value: string | boolean | undefined,
  fallback: number,
  max: number,
): number {
  if (value === undefined) return fallback
  const n = typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value) : Number.NaN
  if (!Number.isSafeInteger(n) || n < 1 || n > max) {
    throw new UsageError(`invalid --${flag}: "${String(value)}" (an integer from 1 to ${max})`)
  }
  return n
}
