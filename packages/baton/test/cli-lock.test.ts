import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CliProcess } from './cli-harness.js'
import { buildCli, runCli, startCli, tempDir, waitUntil } from './cli-harness.js'

// `baton lock NAME`: held until stdin closes or a signal, like `etcdctl lock NAME`; and
// `baton status` exit codes (0 held, 1 free) observed from another process.
const dir = tempDir()
const url = `sqlite:${join(dir, 'locks.db')}`

beforeAll(() => buildCli(), 180_000)
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** Starts `baton lock` with a piped stdin and waits for its first stdout line. */
async function startHolder(name: string, extra: readonly string[] = []): Promise<CliProcess> {
  const holder = startCli(['lock', name, '--url', url, ...extra], dir, {}, 'pipe')
  await waitUntil(
    () => holder.stdout().includes('\n') || holder.child.exitCode !== null,
    20_000,
    'baton lock to print its grant',
  )
  return holder
}

async function status(name: string) {
  return runCli(['status', name, '--url', url, '--json'], dir)
}

describe('baton lock', () => {
  it('prints the fence, holds until stdin closes, then releases and exits 0', async () => {
    const holder = await startHolder('held-by-stdin')
    const fence = holder.stdout().trim()
    expect(fence, holder.stderr()).toMatch(/^\d+$/)
    const held = await status('held-by-stdin')
    expect(held.code, held.stderr).toBe(0)
    expect(JSON.parse(held.stdout)).toMatchObject({ key: 'held-by-stdin', held: true, fence })
    // Another acquirer is refused while it holds.
    const skipped = await runCli(
      ['run', 'held-by-stdin', '--url', url, '--skip-if-held', '--', process.execPath, '-e', ''],
      dir,
    )
    expect(skipped.code).toBe(4)
    holder.child.stdin?.end()
    const result = await holder.done
    expect(result.code, result.stderr).toBe(0)
    expect(result.stderr).toBe('')
    const free = await status('held-by-stdin')
    expect(free.code, free.stderr).toBe(1)
    expect(JSON.parse(free.stdout)).toEqual({ key: 'held-by-stdin', held: false })
  })

  it('releases on SIGTERM and SIGINT with exit 0; --json prints acquired and released', async () => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      const holder = await startHolder(`by-${signal}`, ['--json'])
      const acquired = JSON.parse(holder.stdout().split('\n')[0] as string)
      expect(acquired).toMatchObject({ event: 'acquired', key: `by-${signal}`, url })
      expect(acquired.fence).toMatch(/^\d+$/)
      expect((await status(`by-${signal}`)).code).toBe(0)
      holder.child.kill(signal)
      const result = await holder.done
      expect(result.code, `${signal}: ${result.stderr}`).toBe(0)
      const lines = result.stdout.trim().split('\n')
      expect(lines).toHaveLength(2)
      expect(JSON.parse(lines[1] as string)).toMatchObject({
        event: 'released',
        fence: acquired.fence,
      })
      expect((await status(`by-${signal}`)).code).toBe(1)
    }
  })

  it('with stdin from /dev/null releases at once', async () => {
    const r = await runCli(['lock', 'no-stdin', '--url', url], dir)
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/^\d+\n$/)
    expect((await status('no-stdin')).code).toBe(1)
  })

  it('exits 5 and says so when the lock is lost while held', async () => {
    const holder = await startHolder('lose-lock', ['--ttl', '1500ms', '--json'])
    const freed = await runCli(['release', '--force', '--yes', 'lose-lock', '--url', url], dir)
    expect(freed.stdout).toBe('lose-lock: released by force\n')
    const result = await holder.done // the renewal, within the TTL, finds it gone
    expect(result.code, result.stderr).toBe(5)
    expect(result.stderr).toMatch(/^baton: .*lock "lose-lock" \(fence \d+\) is no longer held\n$/)
    expect(result.stdout).toMatch(/"event":"lost"/)
  })

  it('exits 3 when --wait runs out, printing nothing on stdout', async () => {
    const holder = await startHolder('contended')
    try {
      const timedOut = await runCli(['lock', 'contended', '--url', url, '--wait', '300ms'], dir)
      expect(timedOut.code, timedOut.stderr).toBe(3)
      expect(timedOut.elapsedMs).toBeGreaterThanOrEqual(300)
      expect(timedOut.stdout).toBe('')
      expect(timedOut.stderr).toBe('baton: lock "contended" not acquired within 300ms\n')
    } finally {
      holder.child.stdin?.end()
    }
    expect((await holder.done).code).toBe(0)
  })

  it('rejects a bad --ttl or --wait with exit 2 before touching the backend', async () => {
    const r = await runCli(['lock', 'k', '--url', url, '--ttl', '-5s'], dir)
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/^baton: invalid duration for --ttl: "-5s"/)
  })
})
