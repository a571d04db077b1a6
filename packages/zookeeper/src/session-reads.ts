import type { ZkStat } from './zk-client.js'
import { ZK, zkErrorCode } from './zk-client.js'
import type { ZkSession } from './zk-session.js'

/** node-zookeeper-client's `getChildren` with a watcher, which zk-client.ts does not type. */
interface ChildWatchClient {
  getChildren(
    path: string,
    watcher: () => void,
    callback: (error: Error | null, children: string[], stat: ZkStat) => void,
  ): void
}

/** A node's data, or undefined when the node is gone. */
export async function readData(session: ZkSession, path: string): Promise<Buffer | undefined> {
  try {
    const data = await session.call<Buffer | undefined>((done) =>
      session.client.getData(path, undefined, (error, value) => done(error, value)),
    )
    return data ?? Buffer.alloc(0)
  } catch (err) {
    if (zkErrorCode(err) === ZK.NO_NODE) return undefined
    throw err
  }
}

/**
 * `getChildren` that leaves a one-shot child watch: `watcher` runs on the next change of
 * `path`'s children (Curator's semaphore waits on this watch). Rejects NONODE if `path`
 * is gone.
 */
export function watchChildren(
  session: ZkSession,
  path: string,
  watcher: () => void,
): Promise<string[]> {
  const client = session.client as unknown as ChildWatchClient
  return session.call<string[]>((done) =>
    client.getChildren(path, watcher, (error, children) => done(error, children)),
  )
}

/** Children of `path`, or none when it does not exist. */
export async function childrenOf(session: ZkSession, path: string): Promise<string[]> {
  try {
    return await session.getChildren(path)
  } catch (err) {
    if (zkErrorCode(err) === ZK.NO_NODE) return []
    throw err
  }
}
