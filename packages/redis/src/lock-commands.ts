import type { LockInfo } from '@baton-lock/core'
import {
  fenceKeyOf,
  type LockKeys,
  lockKeyPattern,
  lockKeys,
  readersKeyOf,
  type SemaphoreKeys,
} from './redis-key.js'
import { respBulk, ScriptCall, ScriptKeys } from './script-call.js'
import {
  ACQUIRE,
  RELEASE,
  type ScriptedClient,
  type ScriptedPipeline,
  TRY_ACQUIRE,
} from './scripts.js'

/** Leases per renew script call; a pipeline carries all chunks in one round trip. */
const RENEW_CHUNK = 500

/** The lock key's value while shared holders hold it (see scripts.ts). */
export const SHARED_HOLDERS = '*shared'

/** One lease as the renew and release scripts need it. */
export type OwnedLock =
  | { readonly kind: 'exclusive'; readonly keys: LockKeys; readonly owner: string }
  | { readonly kind: 'shared'; readonly keys: LockKeys; readonly owner: string }
  | { readonly kind: 'semaphore'; readonly keys: SemaphoreKeys; readonly owner: string }

/** What an acquire script answered: granted with a fence, refused with the holder's PTTL, or a limit mismatch. */
export type AcquireReply =
  | { readonly granted: true; readonly fence: number }
  | { readonly granted: false; readonly pttlMs: number }
  | { readonly granted: false; readonly heldLimit: number }

/**
 * A lock's names plus what its script calls send every time, encoded once per key: the six
 * keys, and the namespaced key and the channel as bulk strings.
 */
export interface CallKeys extends LockKeys {
  readonly scriptKeys: ScriptKeys
  /** Lock, fence and queue: the keys of TRY_ACQUIRE. */
  readonly tryKeys: ScriptKeys
  /** The namespaced key these names are of, and `respBulk` of it. */
  readonly key: string
  readonly keyArg: string
  /** `respBulk(channel)`. */
  readonly channelArg: string
}

/** `lockKeys` with its encoded script arguments, for a `LockKeyCache`. */
export function callKeys(prefix: string, key: string): CallKeys {
  return encodeCalls(lockKeys(prefix, key), key)
}

/** `keys` as `CallKeys`: as they are when a `LockKeyCache` made them for `key`, else encoded now. */
function callKeysOf(keys: LockKeys, key = ''): CallKeys {
  const call = keys as Partial<CallKeys>
  return call.scriptKeys !== undefined && call.key === key
    ? (keys as CallKeys)
    : encodeCalls(keys, key)
}

function encodeCalls(keys: LockKeys, key: string): CallKeys {
  return {
    ...keys,
    scriptKeys: new ScriptKeys(six(keys)),
    tryKeys: new ScriptKeys([keys.lock, keys.fence, keys.queue]),
    key,
    keyArg: respBulk(key),
    channelArg: respBulk(keys.channel),
  }
}

const WAIT = respBulk(1)
const NO_WAIT = respBulk(0)

const TRY_CALL = new ScriptCall(TRY_ACQUIRE)
const ACQUIRE_CALL = new ScriptCall(ACQUIRE)
const RELEASE_CALL = new ScriptCall(RELEASE)

function six(k: LockKeys): [string, string, string, string, string, string] {
  return [k.lock, k.fence, k.queue, k.waiters, k.readers, k.owners]
}

function five(k: SemaphoreKeys): [string, string, string, string, string] {
  return [k.holders, k.fence, k.queue, k.waiters, k.owners]
}

/**
 * The queue entry of an exclusive waiter: `<owner>:x:<tag>` (its grant is published on
 * `<channel>:<tag>`, which only its driver hears), `<owner>:v:<value>` for an election
 * candidate (published on the lock's channel), or the bare owner id without a tag.
 */
export function exclusiveEntry(owner: string, value: string | undefined, tag?: string): string {
  if (value !== undefined) return `${owner}:v:${value}`
  return tag === undefined ? owner : `${owner}:x:${tag}`
}

/** The queue entry of a shared waiter: `<owner>:s:<tag>`, or `<owner>:s` without a tag. */
export function sharedEntry(owner: string, tag?: string): string {
  return tag === undefined ? `${owner}:s` : `${owner}:s:${tag}`
}

/** The protocol's commands over one scripted client: facts in, facts out, raw errors thrown. */
export class LockCommands {
  readonly #client: ScriptedClient

  constructor(client: ScriptedClient) {
    this.#client = client
  }

  /**
   * SET NX PX plus fence when nobody queues: `[1, fence]` when granted, `[0, holder PTTL]`
   * when taken (sent by `ScriptCall`, as `release`). With `wait`, a refused owner joins the fair queue (or refreshes its entry
   * there for another `ttlMs`), and an owner the lock was handed to gets `[1, fence]`.
   * `value` (elections) is stored with the grant. A waiter with `tag` queues as
   * `exclusiveEntry(owner, value, tag)`.
   */
  acquire(
    keys: LockKeys,
    owner: string,
    ttlMs: number,
    key: string,
    wait: boolean,
    value?: string,
    tag?: string,
  ): Promise<[0 | 1, number]> {
    const call = callKeysOf(keys, key)
    let resp = respBulk(owner) + respBulk(ttlMs) + call.keyArg + (wait ? WAIT : NO_WAIT)
    resp += call.channelArg
    let count = 5
    if (value !== undefined) {
      resp += respBulk(exclusiveEntry(owner, value)) + respBulk(value)
      count = 7
    } else if (wait && tag !== undefined) {
      resp += respBulk(exclusiveEntry(owner, undefined, tag))
      count = 6
    }
    const args = { resp, count }
    return ACQUIRE_CALL.run(this.#client, call.scriptKeys, args) as Promise<[0 | 1, number]>
  }

  /**
   * The mutex's try (TRY_ACQUIRE): the fence when granted, `TRY_QUEUED` when someone queues
   * (then only `acquire` may grant it: it hands a free lock to the queue's head first), else
   * `-3 - PTTL` of the holder (`pttlOfTry`). `value` (elections) is stored with the grant.
   */
  tryAcquire(
    keys: LockKeys,
    owner: string,
    ttlMs: number,
    key: string,
    value?: string,
  ): Promise<number> {
    const call = callKeysOf(keys, key)
    let resp = respBulk(owner) + respBulk(ttlMs) + call.keyArg
    if (value !== undefined) resp += respBulk(value)
    const args = { resp, count: value === undefined ? 3 : 4 }
    return TRY_CALL.run(this.#client, call.tryKeys, args) as Promise<number>
  }

  /** Caches the scripts `ScriptCall` sends on the server, so that their first calls need no EVAL. */
  async preload(): Promise<void> {
    const scripts = [TRY_ACQUIRE, ACQUIRE, RELEASE]
    await Promise.all(scripts.map((lua) => this.#client.script('LOAD', lua)))
  }

  /** A shared holder: `[1, fence]` or `[0, PTTL]`, queueing with `wait` as `acquire` does (as `sharedEntry(owner, tag)`). */
  acquireShared(
    keys: LockKeys,
    owner: string,
    ttlMs: number,
    key: string,
    wait: boolean,
    tag?: string,
  ): Promise<[0 | 1, number]> {
    const entry = wait && tag !== undefined ? [sharedEntry(owner, tag)] : []
    return this.#client.batonAcquireShared(
      ...six(keys),
      owner,
      ttlMs,
      key,
      wait ? 1 : 0,
      keys.channel,
      ...entry,
    )
  }

  /** One permit of a semaphore; a reply naming the holders' limit when they use another one. */
  async acquireSemaphore(
    keys: SemaphoreKeys,
    owner: string,
    ttlMs: number,
    key: string,
    wait: boolean,
    limit: number,
  ): Promise<AcquireReply> {
    const [code, n] = await this.#client.batonSemAcquire(
      ...five(keys),
      owner,
      ttlMs,
      key,
      wait ? 1 : 0,
      keys.channel,
      limit,
    )
    if (code === 1) return { granted: true, fence: Number(n) }
    if (code === 2) return { granted: false, heldLimit: Number(n) }
    return { granted: false, pttlMs: Number(n) }
  }

  /** Compare-and-delete, then hand-off to the head of the queue; true when it was `owner`'s. */
  async release(keys: LockKeys, owner: string): Promise<boolean> {
    const call = callKeysOf(keys, (keys as Partial<CallKeys>).key)
    const args = { resp: respBulk(owner), count: 1 }
    return (await RELEASE_CALL.run(this.#client, call.scriptKeys, args)) === 1
  }

  /** Releases one lease of any kind; true when it was still held. */
  async releaseOwned(held: OwnedLock): Promise<boolean> {
    if (held.kind === 'exclusive') return this.release(held.keys, held.owner)
    if (held.kind === 'shared') {
      const reply = await this.#client.batonReleaseShared(
        ...six(held.keys),
        held.owner,
        held.keys.channel,
      )
      return reply === 1
    }
    const reply = await this.#client.batonSemRelease(
      ...five(held.keys),
      held.owner,
      held.keys.channel,
      0,
    )
    return reply === 1
  }

  /**
   * A waiter gives up: leaves the queue, and releases the lock (share, permit) if it was
   * handed over meanwhile; true when it released one. `entry` is its queue entry.
   */
  async leave(keys: LockKeys, owner: string, entry?: string): Promise<boolean> {
    const extra = entry === undefined || entry === owner ? [] : [entry]
    return (await this.#client.batonLeave(...six(keys), owner, keys.channel, ...extra)) === 1
  }

  /** A semaphore waiter gives up: leaves the queue and gives back a permit handed to it meanwhile. */
  async leaveSemaphore(keys: SemaphoreKeys, owner: string): Promise<boolean> {
    return (await this.#client.batonSemRelease(...five(keys), owner, keys.channel, 1)) === 1
  }

  /** Releases many in one pipeline (close); errors are the caller's to ignore. */
  async releaseAll(locks: readonly OwnedLock[]): Promise<void> {
    if (locks.length === 0) return
    const pipeline = this.#pipeline()
    for (const held of locks) {
      if (held.kind === 'exclusive') {
        pipeline.batonRelease(...six(held.keys), held.owner)
      } else if (held.kind === 'shared') {
        pipeline.batonReleaseShared(...six(held.keys), held.owner, held.keys.channel)
      } else {
        pipeline.batonSemRelease(...five(held.keys), held.owner, held.keys.channel, 0)
      }
    }
    await pipeline.exec()
  }

  /**
   * Renews every lease in one round trip; true per lease still owned, in order. Exclusive
   * leases: compare-and-PEXPIRE of the lock key; shared leases and permits: their holder
   * entry's expiry (and the keys expiring with the last holder).
   */
  async renewMany(locks: readonly OwnedLock[], ttlMs: number): Promise<boolean[]> {
    const chunks: Array<{ holders: boolean; args: [number, ...Array<string | number>] }> = []
    const order: number[] = []
    const exclusive: Array<{ lock: string; owner: string }> = []
    const holders: Array<{ keys: [string, string, string]; owner: string }> = []
    const holderAt: number[] = []
    locks.forEach((held, i) => {
      if (held.kind === 'exclusive') {
        order.push(i)
        exclusive.push({ lock: held.keys.lock, owner: held.owner })
      } else {
        holderAt.push(i)
        const keys: [string, string, string] =
          held.kind === 'shared'
            ? [held.keys.readers, held.keys.owners, held.keys.lock]
            : [held.keys.holders, held.keys.owners, held.keys.holders]
        holders.push({ keys, owner: held.owner })
      }
    })
    for (let i = 0; i < exclusive.length; i += RENEW_CHUNK) {
      const chunk = exclusive.slice(i, i + RENEW_CHUNK)
      const args: [number, ...Array<string | number>] = [
        chunk.length,
        ...chunk.map((l) => l.lock),
        ttlMs,
        ...chunk.map((l) => l.owner),
      ]
      chunks.push({ holders: false, args })
    }
    for (let i = 0; i < holders.length; i += RENEW_CHUNK) {
      const chunk = holders.slice(i, i + RENEW_CHUNK)
      const args: [number, ...Array<string | number>] = [
        chunk.length * 3,
        ...chunk.flatMap((l) => l.keys),
        ttlMs,
        ...chunk.map((l) => l.owner),
      ]
      chunks.push({ holders: true, args })
    }
    const replies: Array<0 | 1> = []
    if (chunks.length === 1) {
      const [only] = chunks as [(typeof chunks)[number]]
      const reply = only.holders
        ? await this.#client.batonRenewHolders(...(only.args as [number]))
        : await this.#client.batonRenewMany(...(only.args as [number]))
      replies.push(...reply)
    } else if (chunks.length > 1) {
      const pipeline = this.#pipeline()
      for (const chunk of chunks) {
        if (chunk.holders) pipeline.batonRenewHolders(...chunk.args)
        else pipeline.batonRenewMany(...chunk.args)
      }
      for (const [err, reply] of (await pipeline.exec()) ?? []) {
        if (err) throw err
        replies.push(...(reply as Array<0 | 1>))
      }
    }
    const out = new Array<boolean>(locks.length).fill(false)
    // exclusive replies come first, then the holders', each in lease order
    order.forEach((at, j) => {
      out[at] = replies[j] === 1
    })
    holderAt.forEach((at, j) => {
      out[at] = replies[order.length + j] === 1
    })
    return out
  }

  /** Owner, fence, PTTL, mode, readers and value of one lock in one script; null when free. */
  async inspect(keys: LockKeys): Promise<LockInfo | null> {
    const reply = await this.#client.batonInspect(keys.lock, keys.fence, keys.readers)
    return toInfo(reply)
  }

  /** Permits in use, the holders' limit and the last fence of one semaphore; null when none is held. */
  async inspectSemaphore(keys: SemaphoreKeys): Promise<LockInfo | null> {
    const [holders, limit, fence, leftMs] = await this.#client.batonSemInspect(
      keys.holders,
      keys.fence,
    )
    if (holders === 0) return null
    return {
      held: true,
      mode: 'semaphore',
      holders,
      ...(limit === null ? {} : { limit: Number(limit) }),
      ...(fence === null ? {} : { fence: BigInt(fence) }),
      ...(leftMs >= 0 ? { ttlRemainingMs: leftMs } : {}),
    }
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
      for (const lock of locks) pipeline.batonInspect(lock, fenceKeyOf(lock), readersKeyOf(lock))
      for (const [err, reply] of (await pipeline.exec()) ?? []) {
        if (err) throw err
        const info = toInfo(reply as InspectReply)
        const key = (reply as InspectReply)[3]
        if (info !== null && key?.startsWith(keyPrefix)) found.push({ key, ...info })
      }
    } while (cursor !== '0')
    return found.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
  }

  /** DEL whoever holds it, then hand-off to the head of the queue; true when something was held. */
  async forceRelease(keys: LockKeys): Promise<boolean> {
    return (await this.#client.batonForceRelease(...six(keys), keys.channel)) === 1
  }

  #pipeline(): ScriptedPipeline {
    return this.#client.pipeline() as unknown as ScriptedPipeline
  }
}

type InspectReply = Awaited<ReturnType<ScriptedClient['batonInspect']>>

function toInfo([
  held,
  pttlMs,
  fence,
  ,
  valueOwner,
  value,
  readers,
  first,
]: InspectReply): LockInfo | null {
  if (held === null) return null
  const shared = held === SHARED_HOLDERS
  if (shared && readers === 0) return null
  const owner = shared ? first : held
  return {
    held: true,
    mode: shared ? 'shared' : 'exclusive',
    ...(owner === null ? {} : { owner }),
    ...(shared ? { holders: readers } : { holders: 1 }),
    ...(fence === null ? {} : { fence: BigInt(fence) }),
    ...(pttlMs >= 0 ? { ttlRemainingMs: pttlMs } : {}),
    ...(!shared && value !== null && valueOwner === held ? { value } : {}),
  }
}
