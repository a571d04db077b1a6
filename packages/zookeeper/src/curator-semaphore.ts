import type { LockNode, Turn } from './curator-lock.js'
import { sortedBySequence } from './curator-lock.js'
import { readData, watchChildren } from './session-reads.js'
import type { ZkSession } from './zk-session.js'

// Apache Curator's InterProcessSemaphoreV2 (5.x), node for node: a contender takes the
// InterProcessMutex `<path>/locks`, creates its lease `<path>/leases/_c_<uuid>-lease-<seq>`
// (EPHEMERAL_SEQUENTIAL, protected), then lists `<path>/leases` with a child watch until
// there are at most `limit` children, and releases the mutex. Only the mutex holder ever
// waits for a lease, so leases are granted in the mutex's (arrival) order.

/** The semaphore's mutex and its leases, as Curator names them under the semaphore path. */
export const LOCKS_CHILD = 'locks'
export const LEASES_CHILD = 'leases'

/** How many other leases are read for their limit at most (a Curator lease has none). */
const LIMIT_PROBES = 3

/** What Baton writes into a lease node: `limit=<n>` (Curator ignores lease data). */
export function leaseData(limit: number): Buffer {
  return Buffer.from(`limit=${limit}`, 'utf8')
}

/** The limit a Baton lease declared, or undefined for data Baton did not write. */
export function limitOfLeaseData(data: Buffer): number | undefined {
  const match = /^limit=(\d{1,5})$/.exec(data.toString('utf8'))
  return match === null ? undefined : Number(match[1])
}

/** One look at the leases: the turn, and the other lease names in arrival order. */
export interface LeaseTurn {
  readonly turn: Turn
  readonly others: readonly string[]
}

/**
 * One `getChildren` of the leases with a child watch (Curator's loop): granted while the
 * leases, ours included, number at most `limit`; otherwise waits for the watch. Throws
 * when our lease is gone, as Curator does ("Sequential path not found").
 */
export async function lookAtLeases(
  session: ZkSession,
  leasesPath: string,
  lease: LockNode,
  limit: number,
): Promise<LeaseTurn> {
  let changed!: () => void
  const woken = new Promise<void>((resolve) => {
    changed = resolve
  })
  const sentAtMs = performance.now()
  const children = await watchChildren(session, leasesPath, () => changed())
  if (!children.includes(lease.name)) {
    throw new Error(`the lease node ${lease.path} disappeared while waiting`)
  }
  const others = sortedBySequence(children.filter((name) => name !== lease.name))
  if (children.length <= limit) return { turn: { granted: true, sentAtMs }, others }
  return { turn: { granted: false, wait: (stop) => untilWoken(woken, stop) }, others }
}

/** The limit the first Baton lease among `names` declared (up to three reads), if any. */
export async function declaredLimit(
  session: ZkSession,
  leasesPath: string,
  names: readonly string[],
): Promise<number | undefined> {
  for (const name of names.slice(0, LIMIT_PROBES)) {
    const data = await readData(session, `${leasesPath}/${name}`)
    const limit = data === undefined ? undefined : limitOfLeaseData(data)
    if (limit !== undefined) return limit
  }
  return undefined
}

async function untilWoken(woken: Promise<void>, stop: AbortSignal): Promise<boolean> {
  if (stop.aborted) return false
  let onAbort!: () => void
  const aborted = new Promise<void>((resolve) => {
    onAbort = resolve
  })
  stop.addEventListener('abort', onAbort, { once: true })
  await Promise.race([woken, aborted])
  stop.removeEventListener('abort', onAbort)
  return !stop.aborted
}
