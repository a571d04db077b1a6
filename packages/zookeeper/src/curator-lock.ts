import { randomUUID } from 'node:crypto'
import { networkInterfaces } from 'node:os'
import { Backoff, sleep } from '@baton-lock/core/driver'
import { CreateMode } from './raw-create.js'
import type { ZkStat } from './zk-client.js'
import { longOf, ZK, zkErrorCode } from './zk-client.js'
import type { ZkSession } from './zk-session.js'

// Apache Curator's InterProcessMutex (LockInternals + StandardLockInternalsDriver, 5.x),
// node for node: an EPHEMERAL_SEQUENTIAL child `_c_<uuid>-lock-<10-digit sequence>` of
// the lock path (protected mode), missing ancestors as CONTAINER nodes, the lowest
// sequence holds, every other node watches only its predecessor.

/** Curator's lock node name stem (`LockInternals` "lock-") and protected-mode prefix. */
const LOCK_NAME = 'lock-'
const PROTECTED_PREFIX = '_c_'

/** The lock node a contender created: its full path, its name, and its czxid (the fence). */
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

/** The sequence suffix Curator sorts by (`fixForSorting`): the text after the last "lock-". */
export function sequenceOf(name: string): string {
  const at = name.lastIndexOf(LOCK_NAME)
  return at < 0 ? name : name.slice(at + LOCK_NAME.length)
}

/** Lock node names in Curator's order: by sequence suffix only (the uuid differs per node). */
export function sortedLockNodes(children: readonly string[]): string[] {
  return children
    .filter((name) => name.includes(LOCK_NAME))
    .sort((a, b) => {
      const [x, y] = [sequenceOf(a), sequenceOf(b)]
      return x < y ? -1 : x > y ? 1 : 0
    })
}

/**
 * Creates this contender's node in protected mode. On NONODE the ancestors are created as
 * containers (PERSISTENT on a server without them, as Curator does) and the create runs
 * again. On connection loss the reply may be lost while the node exists: the node is then
 * found by its uuid among the children, and created again only if absent, so there is
 * never a second node of ours. Throws once the session ends.
 */
export async function createLockNode(session: ZkSession, lockPath: string): Promise<LockNode> {
  const prefix = `${PROTECTED_PREFIX}${randomUUID()}-`
  const backoff = new Backoff({ minMs: 10, maxMs: 500 })
  for (let attempt = 1; ; attempt++) {
    try {
      const created = await session.create(
        `${lockPath}/${prefix}${LOCK_NAME}`,
        LOCAL_ADDRESS,
        CreateMode.EPHEMERAL_SEQUENTIAL,
      )
      return nodeOf(lockPath, created.path.slice(lockPath.length + 1), created.stat)
    } catch (err) {
      const code = zkErrorCode(err)
      if (code === ZK.NO_NODE && attempt < 5) {
        await createContainers(session, lockPath)
      } else if (code === ZK.CONNECTION_LOSS) {
        await sleep(backoff.next(), session.ended)
        const found = await findProtected(session, lockPath, prefix)
        if (found !== undefined) return found
      } else {
        throw err
      }
    }
  }
}

async function findProtected(
  session: ZkSession,
  lockPath: string,
  prefix: string,
): Promise<LockNode | undefined> {
  const children = await session.getChildren(lockPath).catch((err: unknown) => {
    if (zkErrorCode(err) === ZK.NO_NODE) return []
    throw err
  })
  const name = children.find((child) => child.startsWith(prefix))
  if (name === undefined) return undefined
  const stat = await session.exists(`${lockPath}/${name}`)
  return stat === null ? undefined : nodeOf(lockPath, name, stat)
}

function nodeOf(lockPath: string, name: string, stat: ZkStat): LockNode {
  return { path: `${lockPath}/${name}`, name, czxid: longOf(stat.czxid) }
}

/** Creates every missing ancestor of a lock node, `path` included, as a CONTAINER node. */
async function createContainers(session: ZkSession, path: string): Promise<void> {
  const parts = path.split('/').slice(1)
  let mode: number = CreateMode.CONTAINER
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
        throw err
      }
    }
  }
}

/** Outcome of one look at the queue: ours is lowest, or the predecessor to watch. */
export type Turn =
  | { readonly granted: true; readonly sentAtMs: number }
  | { readonly granted: false; readonly predecessor: string }

/**
 * One `getChildren` of the lock path (Curator's `getsTheLock`): granted when our node is
 * the lowest. `sentAtMs` is taken before the request that showed it. Throws when our node
 * is gone (the session ended or someone deleted it), as Curator does ("lock node
 * disappeared").
 */
export async function lookAtQueue(
  session: ZkSession,
  lockPath: string,
  node: LockNode,
): Promise<Turn> {
  const sentAtMs = performance.now()
  const children = sortedLockNodes(await session.getChildren(lockPath))
  const index = children.indexOf(node.name)
  if (index < 0) throw new Error(`the lock node ${node.path} disappeared while waiting`)
  if (index === 0) return { granted: true, sentAtMs }
  return { granted: false, predecessor: `${lockPath}/${children[index - 1]}` }
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
  const backoff = new Backoff({ minMs: 10, maxMs: 1_000 })
  for (;;) {
    if (session.ended.aborted) return false
    try {
      await session.remove(path)
      return true
    } catch (err) {
      const code = zkErrorCode(err)
      if (code === ZK.NO_NODE || session.ended.aborted) return false
      if (code !== ZK.CONNECTION_LOSS) throw err
      await sleep(backoff.next(), session.ended)
    }
  }
}
