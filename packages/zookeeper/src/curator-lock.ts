import { randomUUID } from 'node:crypto'
import { networkInterfaces } from 'node:os'
import { Backoff, sleep } from '@baton-lock/core/driver'
import { CreateMode } from './raw-create.js'
import type { ZkStat } from './zk-client.js'
import { longOf, ZK, zkErrorCode } from './zk-client.js'
import type { ZkSession } from './zk-session.js'

// Apache Curator's lock recipes (LockInternals + StandardLockInternalsDriver, 5.x), node
// for node: an EPHEMERAL_SEQUENTIAL child `_c_<uuid>-<stem><10-digit sequence>` of the
// lock path (protected mode), missing ancestors as CONTAINER nodes. InterProcessMutex
// names its nodes `lock-`, InterProcessReadWriteLock `__READ__` and `__WRIT__`, and
// InterProcessSemaphoreV2 its leases `lease-`. One parent's children share one sequence
// counter, so sorting by the suffix is arrival order whatever the stem.

/** Node name stems: Curator's `LockInternals` "lock-", the read-write lock's two, the semaphore's lease. */
export const LOCK_NAME = 'lock-'
export const READ_NAME = '__READ__'
export const WRITE_NAME = '__WRIT__'
export const LEASE_NAME = 'lease-'
const STEMS = [LOCK_NAME, READ_NAME, WRITE_NAME, LEASE_NAME]
const PROTECTED_PREFIX = '_c_'

/** The node a contender created: its full path, its name, and its czxid (the fence). */
export interface LockNode {
  readonly path: string
  readonly name: string
  readonly czxid: bigint
}

/** What Curator writes into a lock node: the client's local address as text (`getLocalAddress`). */
export const LOCAL_ADDRESS = Buffer.from(localAddress(), 'utf8')

function localAddress(): string {
  for (const list of Object.values(networkInterfaces())) {
    for (const net of list ?? []) if (net.family === 'IPv4' && !net.internal) return net.address
  }
  return '127.0.0.1'
}

/** The sequence suffix Curator sorts by (`fixForSorting`): the text after the last stem. */
export function sequenceOf(name: string): string {
  let from = -1
  for (const stem of STEMS) {
    const at = name.lastIndexOf(stem)
    if (at >= 0) from = Math.max(from, at + stem.length)
  }
  return from < 0 ? name : name.slice(from)
}

/** True for the node of an exclusive holder: a Curator mutex node or a read-write lock's write node. */
export function isWriteNode(name: string): boolean {
  return name.includes(LOCK_NAME) || name.includes(WRITE_NAME)
}

/**
 * The nodes of a lock path's queue (mutex, read and write nodes) in arrival order: by
 * sequence suffix only (the uuid differs per node).
 */
export function sortedLockNodes(children: readonly string[]): string[] {
  return sortedBySequence(
    children.filter(
      (n) => n.includes(LOCK_NAME) || n.includes(READ_NAME) || n.includes(WRITE_NAME),
    ),
  )
}

/** Names sorted by their sequence suffix (Curator's `getSortedChildren`). */
export function sortedBySequence(names: readonly string[]): string[] {
  return [...names].sort((a, b) => {
    const [x, y] = [sequenceOf(a), sequenceOf(b)]
    return x < y ? -1 : x > y ? 1 : 0
  })
}

/**
 * Creates this contender's node `<lockPath>/_c_<uuid>-<stem>` in protected mode. On NONODE the ancestors are created as
 * containers (PERSISTENT on a server without them, as Curator does) and the create runs
 * again. On connection loss the reply may be lost while the node exists: the node is then
 * looked for by its uuid among the children (after a `sync`, so that a member the session
 * moved to has seen the create the old one forwarded), and created again only if absent,
 * so there is never a second node of ours. A look that loses its connection too is made
 * again: this never returns while the node may exist unknown to us. Throws once the
 * session ends (which deletes the node anyway) or on any other error of a create (which
 * made no node).
 */
export async function createLockNode(
  session: ZkSession,
  lockPath: string,
  stem: string,
  data: Buffer,
): Promise<LockNode> {
  const prefix = `${PROTECTED_PREFIX}${randomUUID()}-`
  // made on the first connection loss only: the usual create needs none
  let backoff: Backoff | undefined
  for (let attempt = 1; ; attempt++) {
    try {
      const created = await session.create(
        `${lockPath}/${prefix}${stem}`,
        data,
        CreateMode.EPHEMERAL_SEQUENTIAL,
      )
      return nodeOf(lockPath, created.path.slice(lockPath.length + 1), created.stat)
    } catch (err) {
      const code = zkErrorCode(err)
      if (code === ZK.NO_NODE && attempt < 5) {
        await createContainers(session, lockPath)
      } else if (code === ZK.CONNECTION_LOSS) {
        backoff ??= new Backoff({ minMs: 10, maxMs: 500 })
        const found = await findProtected(session, lockPath, prefix, backoff)
        if (found !== undefined) return found
      } else {
        throw err
      }
    }
  }
}

/**
 * Our node among `lockPath`'s children, or undefined when the lost create made none.
 * Looks again after each connection loss, until it knows or the session ends.
 */
async function findProtected(
  session: ZkSession,
  lockPath: string,
  prefix: string,
  backoff: Backoff,
): Promise<LockNode | undefined> {
  for (;;) {
    await sleep(backoff.next(), session.ended)
    try {
      await session.sync(lockPath)
      const name = (await session.getChildren(lockPath)).find((child) => child.startsWith(prefix))
      if (name === undefined) return undefined
      const stat = await session.exists(`${lockPath}/${name}`)
      return stat === null ? undefined : nodeOf(lockPath, name, stat)
    } catch (err) {
      const code = zkErrorCode(err)
      if (code === ZK.NO_NODE) return undefined
      if (code !== ZK.CONNECTION_LOSS) throw err
    }
  }
}

function nodeOf(lockPath: string, name: string, stat: ZkStat): LockNode {
  return { path: `${lockPath}/${name}`, name, czxid: longOf(stat.czxid) }
}

/**
 * Creates every missing ancestor of a lock node, `path` included, as a CONTAINER node. A
 * create that lost its connection is sent again (NODEEXISTS then says it was made).
 */
async function createContainers(session: ZkSession, path: string): Promise<void> {
  const parts = path.split('/').slice(1)
  let mode: number = CreateMode.CONTAINER
  let backoff: Backoff | undefined
  for (let i = 1; i <= parts.length; i++) {
    const ancestor = `/${parts.slice(0, i).join('/')}`
    for (;;) {
      try {
        await session.create(ancestor, Buffer.alloc(0), mode)
        break
      } catch (err) {
        const code = zkErrorCode(err)
        if (code === ZK.NODE_EXISTS) break
        if (code === ZK.UNIMPLEMENTED && mode === CreateMode.CONTAINER) {
          mode = CreateMode.PERSISTENT // a server before 3.5: Curator falls back the same way
          continue
        }
        if (code !== ZK.CONNECTION_LOSS) throw err
        backoff ??= new Backoff({ minMs: 10, maxMs: 500 })
        await sleep(backoff.next(), session.ended)
      }
    }
  }
}

/** Outcome of one look: granted (`sentAtMs` before the request that showed it), or how to wait. */
export type Turn =
  | { readonly granted: true; readonly sentAtMs: number }
  | {
      readonly granted: false
      /** Resolves true when something changed (look again), false when `stop` aborted first. */
      readonly wait: (stop: AbortSignal) => Promise<boolean>
    }

/**
 * One `getChildren` of the lock path (Curator's `getsTheLock`). An exclusive node is
 * granted when it is the first of all queue nodes and watches its predecessor; a read
 * node is granted when no write node (mutex `lock-` or `__WRIT__`) sorts before it, and
 * watches the first write node, as Curator's `readLockPredicate` does. Throws when our
 * node is gone (the session ended or someone deleted it), as Curator does ("lock node
 * disappeared").
 */
export async function lookAtQueue(
  session: ZkSession,
  lockPath: string,
  node: LockNode,
  shared: boolean,
): Promise<Turn> {
  const sentAtMs = performance.now()
  const all = await session.getChildren(lockPath)
  // alone in the queue (the uncontended acquire): first in either mode
  if (all.length === 1 && all[0] === node.name) return { granted: true, sentAtMs }
  const children = sortedLockNodes(all)
  const index = children.indexOf(node.name)
  if (index < 0) throw new Error(`the lock node ${node.path} disappeared while waiting`)
  const blocker = shared
    ? children.slice(0, index).find(isWriteNode)
    : index === 0
      ? undefined
      : children[index - 1]
  if (blocker === undefined) return { granted: true, sentAtMs }
  const predecessor = `${lockPath}/${blocker}`
  return { granted: false, wait: (stop) => awaitPredecessor(session, predecessor, stop) }
}

/**
 * Waits until the predecessor's node changes or is deleted (a `getData` watch, as Curator
 * sets), or `stop` aborts; resolves at once if it is already gone. `stop` must follow the
 * session's end (the wait throws its reason then). True when the watch fired or the node
 * was gone, false on abort.
 */
export async function awaitPredecessor(
  session: ZkSession,
  predecessor: string,
  stop: AbortSignal,
): Promise<boolean> {
  if (!stop.aborted) {
    let wake!: () => void
    const woken = new Promise<void>((resolve) => {
      wake = resolve
    })
    try {
      await session.watchData(predecessor, () => wake())
    } catch (err) {
      if (zkErrorCode(err) === ZK.NO_NODE) return true
      throw err
    }
    if (!stop.aborted) {
      stop.addEventListener('abort', wake, { once: true })
      await woken
      stop.removeEventListener('abort', wake)
    }
  }
  if (session.ended.aborted) throw session.ended.reason
  return !stop.aborted
}

/**
 * Curator's guaranteed delete: deletes `path`, retrying after connection loss until it
 * is gone or the session ends (which deletes an ephemeral node anyway). True when this
 * call deleted it.
 */
export async function deleteLockNode(session: ZkSession, path: string): Promise<boolean> {
  let backoff: Backoff | undefined
  for (;;) {
    if (session.ended.aborted) return false
    try {
      await session.remove(path)
      return true
    } catch (err) {
      const code = zkErrorCode(err)
      if (code === ZK.NO_NODE || session.ended.aborted) return false
      if (code !== ZK.CONNECTION_LOSS) throw err
      backoff ??= new Backoff({ minMs: 10, maxMs: 1_000 })
      await sleep(backoff.next(), session.ended)
    }
  }
}
