import type { DriverLease, LeaseBook, RenewResult } from '@baton-lock/core/driver'
import type { HeldKey } from './held-key.js'
import type { LeasePool } from './lease-pool.js'
import type { MutexProtocol } from './mutex-protocol.js'

/**
 * Reads per ownership txn. etcd refuses a txn with more operations than its
 * `--max-txn-ops` (default 128: "too many operations in txn request"), so a batch of
 * thousands of keys is read in txns of at most this many, in parallel.
 */
export const OWNERSHIP_READS_PER_TXN = 128

/** What a renewal needs from the driver. */
export interface RenewDeps {
  readonly book: LeaseBook<HeldKey>
  readonly pool: LeasePool
  readonly protocol: MutexProtocol
  readonly call: () => { deadline: number }
}

/**
 * Renews held keys: one keepalive per shared lease, sent after this call started (so core's
 * send time, taken before the call, is earlier than the server's refresh), and one read of
 * every key, in parallel. A key asked for another TTL is first moved onto that TTL's lease.
 * The reads go in txns of at most `OWNERSHIP_READS_PER_TXN` keys (etcd's txn limit).
 * A key gone or on another lease is lost ({ ok: false }); a keepalive without a reply
 * throws (validity does not move, core retries).
 */
export async function renewHeldKeys(
  deps: RenewDeps,
  leases: readonly DriverLease[],
  ttlMs: number,
): Promise<RenewResult[]> {
  const { book, pool, protocol } = deps
  const startMs = performance.now()
  const seconds = Math.max(1, Math.ceil(ttlMs / 1000))
  const entries = leases.map((lease) => book.get(lease))
  await Promise.all(
    entries.map(async (entry) => {
      if (entry === undefined || entry.data.shared.requestedSeconds === seconds) return
      const target = await pool.use(ttlMs)
      const held = entry.data
      const moved = await protocol
        .moveToLease(held.key, held.createRevision, target.id, deps.call())
        .catch((err: unknown) => {
          pool.unuse(target)
          throw err
        })
      if (!moved) {
        pool.unuse(target)
        return
      }
      pool.unuse(held.shared)
      held.shared = target
    }),
  )
  const live = entries.filter((e) => e !== undefined)
  const shared = [...new Set(live.map((e) => e.data.shared))]
  const [confirmed, owned] = await Promise.all([
    Promise.all(shared.map((s) => pool.confirmAfter(s, startMs))),
    stillOwnedInChunks(
      protocol,
      live.map(({ data }) => ({ ...data, leaseId: data.shared.id })),
      deps.call,
    ),
  ])
  const confirmedBy = new Map(shared.map((s, i) => [s, confirmed[i] !== undefined]))
  let next = 0
  return leases.map((lease, i): RenewResult => {
    const entry = entries[i]
    if (entry === undefined) return { ok: false }
    const stillOwned = owned[next++] === true
    if (!stillOwned || entry.data.shared.dead.aborted) {
      const reason = new Error(`etcd: the key of "${lease.key}" is gone or has another lease`)
      if (book.lose(lease, reason)) pool.unuse(entry.data.shared)
      return { ok: false }
    }
    if (confirmedBy.get(entry.data.shared) !== true) {
      throw new Error(`etcd: keepalive of lease ${entry.data.shared.id} not confirmed`)
    }
    return { ok: true, ttlMs: entry.data.shared.ttlMs }
  })
}

type OwnedKey = Parameters<MutexProtocol['stillOwned']>[0][number]

/** `protocol.stillOwned` over `keys` in txns small enough for etcd, sent in parallel. */
async function stillOwnedInChunks(
  protocol: MutexProtocol,
  keys: readonly OwnedKey[],
  call: () => { deadline: number },
): Promise<boolean[]> {
  if (keys.length <= OWNERSHIP_READS_PER_TXN) return protocol.stillOwned(keys, call())
  const chunks: OwnedKey[][] = []
  for (let i = 0; i < keys.length; i += OWNERSHIP_READS_PER_TXN) {
    chunks.push(keys.slice(i, i + OWNERSHIP_READS_PER_TXN))
  }
  const owned = await Promise.all(chunks.map((chunk) => protocol.stillOwned(chunk, call())))
  return owned.flat()
}
