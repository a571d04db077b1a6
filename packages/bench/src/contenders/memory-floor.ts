import { MemoryDriver } from '@baton-lock/core'
import type { ContenderSpec, LockClient, Release } from '../lock-client.js'
import { ownerId } from './owner-id.js'

const TTL_MS = 30_000

/**
 * The floor of the core-overhead scenario: MemoryDriver's own acquire and release called
 * directly, with what core would pass (a fresh owner id and signal), and no Locker.
 */
export const memoryFloor: ContenderSpec = {
  name: 'floor: bare MemoryDriver calls',
  role: 'floor',
  waits: false,
  async open(): Promise<LockClient> {
    const driver = new MemoryDriver()
    const signal = new AbortController().signal
    return {
      async acquire(key: string, waitMs: number): Promise<Release | null> {
        const lease = await driver.acquire({
          key,
          owner: ownerId(),
          ttlMs: TTL_MS,
          waitMs,
          mode: 'exclusive',
          signal,
        })
        if (lease === null) return null
        return async () => {
          await driver.release(lease)
        }
      },
      async close() {
        await driver.close()
      },
    }
  },
}
