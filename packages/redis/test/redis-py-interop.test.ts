import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process'
import { Locker } from '@baton-lock/core'
import { driverRequest, uniqueKey } from '@baton-lock/core/driver'
import { RedlockDriver } from '@baton-lock/redis'
import { startRedis } from '@baton-lock/test-matrix'
import { Redis } from 'ioredis'
import { afterAll, describe, expect, it } from 'vitest'

// Debian's redis-py (python3-redis, installed by test-matrix/install-servers.sh) against the
// plain key layout: a Baton lock named N is redis-py's `Lock(N)`: SET N <token> NX PX, released
// by compare-and-delete. Python's releases publish nothing, so Baton waiters poll (pollMs 100).
const PYTHON = '/usr/bin/python3'
const check = spawnSync(PYTHON, ['-c', 'import redis; print(redis.__version__)'], {
  encoding: 'utf8',
})
if (check.status !== 0) {
  throw new Error(
    `redis-py is missing for ${PYTHON}: run \`sudo bash test-matrix/install-servers.sh\` (python3-redis)`,
  )
}
const server = await startRedis()
const raw = new Redis(server.port, server.host)
const url = `redlock://${server.host}:${server.port}?layout=plain`
afterAll(async () => {
  raw.disconnect()
  await server.stop()
})

/** A Python process running `script` with the server's address and the lock name as argv. */
class Python {
  readonly child: ChildProcessWithoutNullStreams
  readonly #lines: string[] = []
  #waiters: Array<() => void> = []

  constructor(script: string, name: string) {
    this.child = spawn(PYTHON, ['-c', script, server.host, String(server.port), name], {
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: 30_000,
      killSignal: 'SIGKILL',
    })
    let buffer = ''
    this.child.stdout.setEncoding('utf8').on('data', (text: string) => {
      buffer += text
      const parts = buffer.split('\n')
      buffer = parts.pop() ?? ''
      this.#lines.push(...parts)
      for (const w of this.#waiters.splice(0)) w()
    })
    let stderr = ''
    this.child.stderr.setEncoding('utf8').on('data', (t: string) => {
      stderr += t
    })
    this.child.once('exit', () => {
      if (stderr) this.#lines.push(`stderr: ${stderr}`)
      for (const w of this.#waiters.splice(0)) w()
    })
  }

  /** The next line printed, within `timeoutMs`. */
  async line(timeoutMs = 10_000): Promise<string> {
    const deadline = performance.now() + timeoutMs
    while (this.#lines.length === 0) {
      if (performance.now() > deadline || this.child.exitCode !== null) {
        if (this.#lines.length > 0) break
        throw new Error('python printed nothing in time')
      }
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve)
        setTimeout(resolve, 100).unref()
      })
    }
    return this.#lines.shift() as string
  }

  send(text: string): void {
    this.child.stdin.write(`${text}\n`)
  }
}

const PY_HOLDS = `
import sys, redis
r = redis.Redis(host=sys.argv[1], port=int(sys.argv[2]))
lock = r.lock(sys.argv[3], timeout=10)
print('held' if lock.acquire(blocking=False) else 'refused', flush=True)
sys.stdin.readline()
lock.release()
print('released', flush=True)
`

const PY_WAITS = `
import sys, time, redis
r = redis.Redis(host=sys.argv[1], port=int(sys.argv[2]))
lock = r.lock(sys.argv[3], timeout=10)
print('try', lock.acquire(blocking=False), flush=True)
lock.local.token = b'a-python-token'  # release with a token of its own: the server compares
try:
    lock.release()
except redis.exceptions.LockError as e:
    print('release refused', type(e).__name__, flush=True)
lock.local.token = None
start = time.monotonic()
ok = lock.acquire(blocking=True, blocking_timeout=8)
print('got', ok, round((time.monotonic() - start) * 1000), flush=True)
lock.release()
print('released', flush=True)
`

describe('redis-py interop (plain layout)', () => {
  it('a Baton lock named N is the Redis key N holding the owner id, fence in a side key', async () => {
    const driver = await RedlockDriver.connect({ url, onWarning: () => {} })
    try {
      const name = uniqueKey('plain')
      const lease = await driver.acquire(driverRequest(name, { ttlMs: 5_000 }))
      expect(await raw.get(name)).toBe(lease?.owner)
      expect(await raw.pttl(name)).toBeGreaterThan(4_000)
      expect(await raw.hget(`baton:fence:{${name}}`, 'n')).toBe(String(lease?.fence))
      if (lease) await driver.release(lease)
      expect(await raw.exists(name)).toBe(0)
    } finally {
      await driver.close()
    }
  })

  it('Python holds, Baton waits and gets the lock soon after Python releases (polling, not the 10 s TTL)', async () => {
    const locker = new Locker(await RedlockDriver.connect({ url, onWarning: () => {} }))
    const name = uniqueKey('py-holds')
    const py = new Python(PY_HOLDS, name)
    try {
      expect(await py.line()).toBe('held')
      expect(await locker.tryAcquire(name)).toBeNull()
      const waiting = locker.acquire(name, { ttlMs: 5_000, waitMs: 8_000 })
      await new Promise((r) => setTimeout(r, 300))
      py.send('go')
      expect(await py.line()).toBe('released')
      const releasedAt = performance.now()
      const lock = await waiting
      const afterMs = performance.now() - releasedAt
      console.info(`[redis-py] Baton granted ${Math.round(afterMs)} ms after Python's release`)
      expect(afterMs).toBeLessThan(2_000)
      expect(await raw.get(name)).toBe(lock.owner)
      await lock.release()
    } finally {
      py.child.kill('SIGKILL')
      await locker.close()
    }
  })

  it('Baton holds, Python is refused, cannot release it, and gets it after Baton releases', async () => {
    const locker = new Locker(await RedlockDriver.connect({ url, onWarning: () => {} }))
    const name = uniqueKey('baton-holds')
    const lock = await locker.acquire(name, { ttlMs: 10_000 })
    const py = new Python(PY_WAITS, name)
    try {
      expect(await py.line()).toBe('try False')
      expect(await py.line()).toMatch(/^release refused LockNotOwnedError$/)
      expect(await raw.get(name)).toBe(lock.owner) // Python's release did not touch it
      await new Promise((r) => setTimeout(r, 500))
      await lock.release()
      const got = await py.line()
      expect(got).toMatch(/^got True \d+$/)
      const waitedMs = Number(got.split(' ')[2])
      expect(waitedMs).toBeGreaterThanOrEqual(400) // not before Baton's release
      expect(waitedMs).toBeLessThan(5_000) // redis-py polls every 100 ms, not the 10 s TTL
      expect(await py.line()).toBe('released')
      // And Baton gets it back at once, with a greater fence.
      const again = await locker.acquire(name, { ttlMs: 5_000, waitMs: 2_000 })
      expect(again.fence).toBeGreaterThan(lock.fence)
      await again.release()
    } finally {
      py.child.kill('SIGKILL')
      await locker.close()
    }
  })
})
