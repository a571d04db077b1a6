import type { LockDriver } from './driver.js'

/** A turn in the in-process queue of one key; `grant` hands the key over directly. */
interface Turn {
  grant(): void
}

/** The holder of a taken key, told when someone in this process starts waiting for it. */
export interface KeyHolder {
  watchLoss(): void
}

/** A taken key: who waits for it in this process (made on the first waiter), and its holder. */
interface Slot {
  turns: Turn[] | undefined
  holder: KeyHolder | undefined
}

/** The taken keys of one driver, by namespaced key; a Locker looks it up once. */
export type KeySlots = Map<string, Slot>

/**
 * The in-process FIFO queue of every (driver, namespaced key) pair. A key is "taken" from
 * the moment an acquire starts talking to the driver until its handle is released or its
 * loss is cleaned up, so the driver is never asked for a key this process already holds
 * or is already asking for (S5). PostgreSQL and MySQL locks re-enter within a session, so
 * without this a second acquire on the same session would silently succeed. Lockers that
 * share a driver share its slots.
 */
const queues = new WeakMap<LockDriver, KeySlots>()

/** The taken keys of `driver`, shared by every Locker over it. */
export function keySlotsOf(driver: LockDriver): KeySlots {
  let slots = queues.get(driver)
  if (slots === undefined) {
    slots = new Map()
    queues.set(driver, slots)
  }
  return slots
}

/** Takes the key at once when no one in this process has it; true on success. */
export function tryTakeKey(slots: KeySlots, key: string): boolean {
  if (slots.has(key)) return false
  slots.set(key, { turns: undefined, holder: undefined })
  return true
}

/**
 * Waits for the key in arrival order. Resolves when the key is handed over; rejects with
 * `signal.reason` when `signal` aborts first, leaving the queue as if it had never waited.
 */
export function waitForKey(slots: KeySlots, key: string, signal: AbortSignal): Promise<void> {
  if (tryTakeKey(slots, key)) return Promise.resolve()
  if (signal.aborted) return Promise.reject(signal.reason)
  const slot = slots.get(key) as Slot
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      const at = slot.turns?.indexOf(turn) ?? -1
      if (at >= 0) slot.turns?.splice(at, 1)
      reject(signal.reason)
    }
    const turn: Turn = {
      grant() {
        signal.removeEventListener('abort', onAbort)
        resolve()
      },
    }
    slot.turns ??= []
    slot.turns.push(turn)
    signal.addEventListener('abort', onAbort, { once: true })
    slot.holder?.watchLoss()
  })
}

/**
 * Tells `holder` (now, if someone already waits) whenever an acquire in this process
 * queues behind it for the key, until the key changes hands.
 */
export function watchKeyWaiters(slots: KeySlots, key: string, holder: KeyHolder): void {
  const slot = slots.get(key)
  if (slot === undefined) return
  slot.holder = holder
  if (slot.turns !== undefined && slot.turns.length > 0) holder.watchLoss()
}

/** Gives the key to the next waiter in this process, or frees it. */
export function giveBackKey(slots: KeySlots, key: string): void {
  const slot = slots.get(key)
  if (slot === undefined) return
  slot.holder = undefined
  const next = slot.turns?.shift()
  if (next === undefined) slots.delete(key)
  else next.grant()
}

/** Number of keys this process currently holds or is acquiring on `driver` (tests, H1). */
export function takenKeyCount(driver: LockDriver): number {
  return queues.get(driver)?.size ?? 0
}
