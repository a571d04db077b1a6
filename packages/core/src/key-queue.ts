import type { LockDriver } from './driver.js'

/** A turn in the in-process queue of one key; `grant` hands the key over directly. */
interface Turn {
  grant(): void
}

/** A taken key: who waits for it in this process, and how to tell its holder that someone does. */
interface Slot {
  readonly turns: Turn[]
  onWaiter: (() => void) | undefined
}

/**
 * The in-process FIFO queue of every (driver, namespaced key) pair. A key is "taken" from
 * the moment an acquire starts talking to the driver until its handle is released or its
 * loss is cleaned up, so the driver is never asked for a key this process already holds
 * or is already asking for (S5). PostgreSQL and MySQL locks re-enter within a session, so
 * without this a second acquire on the same session would silently succeed.
 */
const queues = new WeakMap<LockDriver, Map<string, Slot>>()

function slotsOf(driver: LockDriver): Map<string, Slot> {
  let slots = queues.get(driver)
  if (slots === undefined) {
    slots = new Map()
    queues.set(driver, slots)
  }
  return slots
}

/** Takes the key at once when no one in this process has it; true on success. */
export function tryTakeKey(driver: LockDriver, key: string): boolean {
  const slots = slotsOf(driver)
  if (slots.has(key)) return false
  slots.set(key, { turns: [], onWaiter: undefined })
  return true
}

/**
 * Waits for the key in arrival order. Resolves when the key is handed over; rejects with
 * `signal.reason` when `signal` aborts first, leaving the queue as if it had never waited.
 */
export function waitForKey(driver: LockDriver, key: string, signal: AbortSignal): Promise<void> {
  if (tryTakeKey(driver, key)) return Promise.resolve()
  if (signal.aborted) return Promise.reject(signal.reason)
  const slot = slotsOf(driver).get(key) as Slot
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      const at = slot.turns.indexOf(turn)
      if (at >= 0) slot.turns.splice(at, 1)
      reject(signal.reason)
    }
    const turn: Turn = {
      grant() {
        signal.removeEventListener('abort', onAbort)
        resolve()
      },
    }
    slot.turns.push(turn)
    signal.addEventListener('abort', onAbort, { once: true })
    slot.onWaiter?.()
  })
}

/**
 * Calls `onWaiter` (now, if someone already waits) whenever an acquire in this process
 * queues behind the key's current holder, until the key changes hands.
 */
export function watchKeyWaiters(driver: LockDriver, key: string, onWaiter: () => void): void {
  const slot = queues.get(driver)?.get(key)
  if (slot === undefined) return
  slot.onWaiter = onWaiter
  if (slot.turns.length > 0) onWaiter()
}

/** Gives the key to the next waiter in this process, or frees it. */
export function giveBackKey(driver: LockDriver, key: string): void {
  const slots = queues.get(driver)
  const slot = slots?.get(key)
  if (slots === undefined || slot === undefined) return
  slot.onWaiter = undefined
  const next = slot.turns.shift()
  if (next === undefined) slots.delete(key)
  else next.grant()
}

/** Number of keys this process currently holds or is acquiring on `driver` (tests, H1). */
export function takenKeyCount(driver: LockDriver): number {
  return queues.get(driver)?.size ?? 0
}
