import type { LockDriver } from './driver.js'

/** A turn in the in-process queue of one key; `grant` hands the key over directly. */
interface Turn {
  grant(): void
}

/**
 * The in-process FIFO queue of every (driver, namespaced key) pair. A key is "taken" from
 * the moment an acquire starts talking to the driver until its handle is released or its
 * loss is cleaned up, so the driver is never asked for a key this process already holds
 * or is already asking for (S5). PostgreSQL and MySQL locks re-enter within a session, so
 * without this a second acquire on the same session would silently succeed.
 */
const queues = new WeakMap<LockDriver, Map<string, Turn[]>>()

function keysOf(driver: LockDriver): Map<string, Turn[]> {
  let keys = queues.get(driver)
  if (keys === undefined) {
    keys = new Map()
    queues.set(driver, keys)
  }
  return keys
}

/** Takes the key at once when no one in this process has it; true on success. */
export function tryTakeKey(driver: LockDriver, key: string): boolean {
  const keys = keysOf(driver)
  if (keys.has(key)) return false
  keys.set(key, [])
  return true
}

/**
 * Waits for the key in arrival order. Resolves when the key is handed over; rejects with
 * `signal.reason` when `signal` aborts first, leaving the queue as if it had never waited.
 */
export function waitForKey(driver: LockDriver, key: string, signal: AbortSignal): Promise<void> {
  if (tryTakeKey(driver, key)) return Promise.resolve()
  if (signal.aborted) return Promise.reject(signal.reason)
  const turns = keysOf(driver).get(key) as Turn[]
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      const at = turns.indexOf(turn)
      if (at >= 0) turns.splice(at, 1)
      reject(signal.reason)
    }
    const turn: Turn = {
      grant() {
        signal.removeEventListener('abort', onAbort)
        resolve()
      },
    }
    turns.push(turn)
    signal.addEventListener('abort', onAbort, { once: true })
  })
}

/** Gives the key to the next waiter in this process, or frees it. */
export function giveBackKey(driver: LockDriver, key: string): void {
  const keys = queues.get(driver)
  const turns = keys?.get(key)
  if (keys === undefined || turns === undefined) return
  const next = turns.shift()
  if (next === undefined) keys.delete(key)
  else next.grant()
}

/** Number of keys this process currently holds or is acquiring on `driver` (tests, H1). */
export function takenKeyCount(driver: LockDriver): number {
  return queues.get(driver)?.size ?? 0
}
