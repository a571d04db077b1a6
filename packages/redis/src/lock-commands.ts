import type { LockInfo } from '@baton-lock/core'
import { fenceKeyOf, type LockKeys, lockKeyPattern } from './redis-key.js'
import type { ScriptedClient, ScriptedPipeline } from './scripts.js'

/** Leases per renewMany script call; a pipeline carries all chunks in one round trip. */
const RENEW_CHUNK = 500

/** One lease as the renew and release scripts need it. */
export interface OwnedLock {
  readonly keys: LockKeys
  readonly owner: string
}

/** The protocol's commands over one scripted client: facts in, facts out, raw errors thrown. */
export class LockCommands {
  readonly #client: ScriptedClient

  constructor(client: ScriptedClient) {
    this.#client = client
  }

  /**
   * SET NX PX plus fence when nobody queues: `[1, fence]` when granted, `[0, holder PTTL]`
   * when taken. With `wait`, a refused owner joins the fair queue (or refreshes its entry
   * there for another `ttlMs`), and an owner the lock was handed to gets `[1, fence]`.
   */
  acquire(
    keys: LockKeys,
    owner: string,
    ttlMs: number,
    key: string,
    wait: boolean,
  ): Promise<[0 | 1, number]> {
    const { lock, fence, queue, waiters, channel } = keys
    return this.#client.batonAcquire(
      lock,
      fence,
      queue,
      waiters,
      owner,
      ttlMs,
      key,
      wait ? 1 : 0,
      channel,
    )
  }

  /** Compare-and-delete, then hand-off to the head of the queue; true when it was `owner`'s. */
  async release(keys: LockKeys, owner: string): Promise<boolean> {
    const { lock, fence, queue, waiters, channel } = keys
    return (await this.#client.batonRelease(lock, fence, queue, waiters, owner, channel)) === 1
  }

  /**
   * A waiter gives up: leaves the queue, and releases the lock if it was handed over
   * meanwhile; true when it released one.
   */
  async leave(keys: LockKeys, owner: string): Promise<boolean> {
    const { lock, fence, queue, waiters, channel } = keys
    return (await this.#client.batonLeave(lock, fence, queue, waiters, owner, channel)) === 1
  }

  /** Releases many in one pipeline (close); errors are the caller's to ignore. */
  async releaseAll(locks: readonly OwnedLock[]): Promise<void> {
    if (locks.length === 0) return
    const pipeline = this.#pipeline()
    for (const { keys, owner } of locks) {
      pipeline.batonRelease(keys.lock, keys.fence, keys.queue, keys.waiters, owner, keys.channel)
    }
    await pipeline.exec()
  }

  /** Compare-and-PEXPIRE of every lock in one round trip; true per lock still owned, in order. */
  async renewMany(locks: readonly OwnedLock[], ttlMs: number): Promise<boolean[]> {
    const chunks: Array<[number, ...Array<string | number>]> = []
    for (let i = 0; i < locks.length; i += RENEW_CHUNK) {
      const chunk = locks.slice(i, i + RENEW_CHUNK)
      const lockNames = chunk.map((l) => l.keys.lock)
      chunks.push([chunk.length, ...lockNames, ttlMs, ...chunk.map((l) => l.owner)])
    }
    const replies: Array<0 | 1> = []
    if (chunks.length === 1) {
      replies.push(...(await this.#client.batonRenewMany(...(chunks[0] as [number]))))
    } else if (chunks.length > 1) {
      const pipeline = this.#pipeline()
      for (const args of chunks) pipeline.batonRenewMany(...args)
      for (const [err, reply] of (await pipeline.exec()) ?? []) {
        if (err) throw err
        replies.push(...(reply as Array<0 | 1>))
      }
    }
    return locks.map((_, i) => replies[i] === 1)
  }

  /** Owner, fence and PTTL of one lock in one script; null when free. */
  async inspect(keys: LockKeys): Promise<LockInfo | null> {
    const [owner, pttlMs, fence] = await this.#client.batonInspect(keys.lock, keys.fence)
    return owner === null ? null : toInfo(owner, pttlMs, fence)
  }

  /** Held locks whose namespaced key starts with `keyPrefix`: SCAN plus one pipelined inspect per batch. */
  async list(
    prefix: string,
    keyPrefix: string,
  ): Promise<Array<LockInfo & { readonly key: string }>> {
    const found: Array<LockInfo & { readonly key: string }> = []
    let cursor = '0'
    do {
      const pattern = lockKeyPattern(prefix)
      const [next, locks] = await this.#client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000)
      cursor = next
      if (locks.length === 0) continue
      const pipeline = this.#pipeline()
      for (const lock of locks) pipeline.batonInspect(lock, fenceKeyOf(lock))
      for (const [err, reply] of (await pipeline.exec()) ?? []) {
        if (err) throw err
        const [owner, pttlMs, fence, key] = reply as [
          string | null,
          number,
          string | null,
          string | null,
        ]
        if (owner && key?.startsWith(keyPrefix))
          found.push({ key, ...toInfo(owner, pttlMs, fence) })
      }
    } while (cursor !== '0')
    return found.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
  }

  /** DEL whoever holds it, then hand-off to the head of the queue; true when something was held. */
  async forceRelease(keys: LockKeys): Promise<boolean> {
    const { lock, fence, queue, waiters, channel } = keys
    return (await this.#client.batonForceRelease(lock, fence, queue, waiters, channel)) === 1
  }

  #pipeline(): ScriptedPipeline {
    return this.#client.pipeline() as unknown as ScriptedPipeline
  }
}

function toInfo(owner: string, pttlMs: number, fence: string | null): LockInfo {
  return {
    held: true,
    owner,
    ...(fence === null ? {} : { fence: BigInt(fence) }),
    ...(pttlMs >= 0 ? { ttlRemainingMs: pttlMs } : {}),
  }
}
