import type { CheckerName, Violation } from './checkers/violation.js'
import type { BackendName } from './harness/deployment.js'

/**
 * Violations the suite found on real drivers that are limits of the backend's model, not bugs
 * to fix in the driver, each with its cause and a bound. A violation matches only when backend,
 * nemesis and checker match and it stays within `maxMs`; anything else still fails. They are
 * counted and shown in docs/guarantees.md like every other violation.
 */
export interface KnownLimit {
  backends: readonly BackendName[]
  nemesis: string
  checker: CheckerName
  maxMs: number
  cause: string
}

export const KNOWN_LIMITS: readonly KnownLimit[] = [
  {
    backends: ['postgres', 'mysql'],
    nemesis: 'cut-holder',
    checker: 'S1',
    maxMs: 50,
    cause:
      "A reset (RST) of the holder's connection ends its session on the server at once, which frees the lock for a waiter, while the holder only learns of it when its event loop handles the socket error; meanwhile its handle is still valid. Seen: overlaps of 3.5 ms (PostgreSQL) and 7.9 ms (MariaDB). Fencing keeps the store safe (the old holder's write, if any, carries the lower fence).",
  },
]

export function knownLimitOf(
  backend: string,
  nemesis: string,
  v: Violation,
): KnownLimit | undefined {
  return KNOWN_LIMITS.find(
    (l) =>
      (l.backends as readonly string[]).includes(backend) &&
      l.nemesis === nemesis &&
      l.checker === v.checker &&
      v.byMs !== undefined &&
      v.byMs <= l.maxMs,
  )
}

/**
 * What holds only under the documented deployment of a backend: a limit of its model that the
 * suite does not tolerate as a violation but keeps out of (or runs as "outside the documented
 * deployment" in the long profile). Shown in docs/guarantees.md.
 */
export const DEPLOYMENT_LIMITS: readonly string[] = [
  'Redis: fences and keys survive a server crash only with `appendonly yes` and `appendfsync always`; without AOF a restart forgets every lock and the fence counter (`fencing: volatile`), so a holder still valid by its clock overlaps the next one and fences repeat (the "Redis without AOF" section).',
  'PostgreSQL: fences are durable because the driver runs its lock sessions with `synchronous_commit = on`. Before it did, a server whose default was off lost the WAL of the last `nextval` in a crash and reissued a fence (fence 34 granted twice around a server SIGKILL); the "PostgreSQL, server default synchronous_commit off" section checks that this no longer happens.',
  "Redlock (`redlock://`, 3 independent nodes, majority 2): safe under any minority fault (one node killed and restarted, or paused; one client's link to one node or to all nodes cut, held or slowed), because any two majorities share a node and that node keeps the holder's key until it is released or expires. A lease's validity is the TTL minus the grant round minus a clock-drift allowance (1 % of the TTL + 2 ms), counted from the send; the nodes here share one host clock, so drift itself is not exercised. What Redlock does not promise: a node that restarts **without persistence** forgets the keys it granted and its fence counters. Together with a node the holder did not win (after a split vote a holder may hold exactly 2 of 3) it is a majority for a second client while the first lease is still valid: one node back empty before that lease ends (at most one TTL after the crash, since the holder's next renewal then reaches only one node with its key and fails) can break S1, and a majority of nodes restarting within the TTL can break it whoever held what. Fences restart from the surviving counters, so they can repeat even after a restart that waited out the TTL (S3; the driver reports `fencing: volatile` then). The remedies are AOF with `appendfsync always` on every node (this suite's deployment; `fencing: durable`) or a delayed restart (a crashed node stays down longer than the TTL), which restores S1 but not S3. The suite restarts only a minority (`member-kill`: one node, after 1 s); it never kills every node at once (`server-kill`) on Redlock. The long profile's \"Redlock without AOF\" section runs that one-node restart without persistence, outside the documented deployment.",
]
