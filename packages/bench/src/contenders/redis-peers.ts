import { ExecutionError, Redlock } from '@sesamecare-oss/redlock'
import { Redis } from 'ioredis'
import { Mutex } from 'redis-semaphore'
import type { BackendTarget, ContenderSpec, LockClient, Release } from '../lock-client.js'

const TTL_MS = 30_000

async function connect(url: string): Promise<Redis> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 })
  await redis.connect()
  return redis
}

/**
 * @sesamecare-oss/redlock over `clients` (one for single-instance Redlock, N for the quorum),
 * default retry settings (200 ms delay, 100 ms jitter), retried for as long as the wait allows.
 */
export function redlockClient(clients: Redis[]): LockClient {
  const redlock = new Redlock(clients)
  redlock.on('error', () => {}) // contention shows up here as ResourceLockedError; not a failure
  return {
    async acquire(key: string, waitMs: number): Promise<Release | null> {
      // Redlock retries every 200 +- 100 ms; enough retries to cover waitMs at the shortest delay.
      const retryCount = Math.ceil(waitMs / 100)
      try {
        const lock = await redlock.acquire([key], TTL_MS, { retryCount })
        return async () => {
          await lock.release()
        }
      } catch (err) {
        if (err instanceof ExecutionError) return null
        throw err
      }
    },
    async close() {
      await redlock.quit()
    },
  }
}

/**
 * @sesamecare-oss/redlock with a single client (single-instance Redlock), default retry
 * settings (200 ms delay, 100 ms jitter), retried for as long as the wait allows.
 */
export const redlockPeer: ContenderSpec = {
  name: 'peer: @sesamecare-oss/redlock',
  role: 'peer',
  waits: true,
  async open(target: BackendTarget): Promise<LockClient> {
    return redlockClient([await connect(target.url)])
  },
}

/**
 * redis-semaphore's Mutex on one client, library defaults (polls every 10 ms while waiting,
 * refreshes at 80% of the lock timeout).
 */
export const redisSemaphorePeer: ContenderSpec = {
  name: 'peer: redis-semaphore Mutex',
  role: 'peer',
  waits: true,
  async open(target: BackendTarget): Promise<LockClient> {
    const redis = await connect(target.url)
    return {
      async acquire(key: string, waitMs: number): Promise<Release | null> {
        const mutex = new Mutex(redis, key, {
          lockTimeout: TTL_MS,
          acquireTimeout: Math.max(1, waitMs),
          acquireAttemptsLimit: waitMs === 0 ? 1 : Number.POSITIVE_INFINITY,
        })
        const ok = await mutex.tryAcquire()
        if (!ok) return null
        return () => mutex.release()
      },
      async close() {
        await redis.quit()
      },
    }
  },
}
