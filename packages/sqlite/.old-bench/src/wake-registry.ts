/**
 * In-process wake-ups: a waiter polling a key sleeps until its backoff delay ends, or
 * until a driver in the SAME process releases that key on the same file, whichever comes
 * first. Releases from other processes are seen by polling only (SQLite has no
 * cross-process notification), so this only shortens same-process handoffs.
 */
const waiters = new Map<string, Set<() => void>>()

/** Identifies one key in one database file. */
export function wakeId(file: string, key: string): string {
  return `${file}\u0000${key}`
}

/** Wakes every waiter of `id` in this process. */
export function wake(id: string): void {
  const set = waiters.get(id)
  if (set === undefined) return
  for (const fn of [...set]) fn()
}

/**
 * Resolves after `ms`, when `wake(id)` is called, or when `signal` aborts, whichever
 * comes first. The timer does not keep the process alive.
 */
export function sleepUntilWoken(id: string, ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve()
  return new Promise((resolve) => {
    let set = waiters.get(id)
    if (set === undefined) {
      set = new Set()
      waiters.set(id, set)
    }
    const own = set
    const done = () => {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      own.delete(done)
      if (own.size === 0 && waiters.get(id) === own) waiters.delete(id)
      resolve()
    }
    const timer = setTimeout(done, Math.max(0, ms))
    own.add(done)
    signal.addEventListener('abort', done, { once: true })
  })
}
