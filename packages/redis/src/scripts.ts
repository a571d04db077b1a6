import type { ChainableCommander, Redis } from 'ioredis'

// Each script touches only keys of one lock (one hash tag, one slot), except renewMany, whose
// keys span slots: fine on a standalone server, split per slot before Cluster support lands.
//
// Waiters queue in Redis (a fair lock as Redisson's): KEYS[3] is a list of waiting owner ids
// in arrival order, KEYS[4] a sorted set of the same ids scored by the server time (ms) at
// which each entry expires unless its waiter runs a script again (every waiter does within a
// third of its TTL). Whenever the lock is free and a live waiter heads the queue, a script
// hands the lock to that waiter on the server (SET owner PX <its entry's remaining time>,
// HINCRBY fence) and PUBLISHes "<owner>:<fence>:<PX>" on the lock's channel: exactly one
// waiter is woken, and nobody retries (the others only move their PTTL backstop to the new
// holder's PX, in case it is a waiter that died). Entries of waiters that died are dropped when they reach the
// head after their expiry.

/**
 * Shared by the scripts: `handOff(now, self, selfTtl)` drops expired heads, and when the
 * lock is free gives it to the live head. Returns the head's id and fence (no PUBLISH when
 * the head is `self`, the caller), or false when the queue is empty or the lock is held.
 */
const HAND_OFF = `
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function hand_off(now, self, self_ttl)
  if redis.call('EXISTS', KEYS[1]) == 1 then return false end
  local head = redis.call('LINDEX', KEYS[3], 0)
  while head do
    local expires = tonumber(redis.call('ZSCORE', KEYS[4], head) or 0)
    redis.call('LPOP', KEYS[3])
    redis.call('ZREM', KEYS[4], head)
    if expires > now then
      local ttl = expires - now
      if head == self then ttl = self_ttl end
      redis.call('SET', KEYS[1], head, 'PX', ttl)
      local fence = redis.call('HINCRBY', KEYS[2], 'n', 1)
      if head ~= self then redis.call('PUBLISH', ARGV[#ARGV], head .. ':' .. fence .. ':' .. ttl) end
      return {head, fence}
    end
    head = redis.call('LINDEX', KEYS[3], 0)
  end
  return false
end
`

/**
 * KEYS: lock, fence, queue, waiters. ARGV: owner, ttlMs, namespaced key, wait (1: join or
 * refresh the queue when not granted), channel. Returns {1, fence} or {0, holder PTTL}. With
 * no queue this is SET NX PX plus the fence, as without fairness. A waiter the lock was
 * handed to (its message not seen yet) gets {1, fence} with the expiry reset to ttlMs.
 */
const ACQUIRE = `${HAND_OFF}
local owner, ttl = ARGV[1], tonumber(ARGV[2])
if ARGV[4] == '1' and redis.call('GET', KEYS[1]) == owner then
  redis.call('PEXPIRE', KEYS[1], ttl)
  return {1, tonumber(redis.call('HGET', KEYS[2], 'n'))}
end
local now
if redis.call('LLEN', KEYS[3]) == 0 then
  if redis.call('SET', KEYS[1], owner, 'NX', 'PX', ttl) then
    local fence = redis.call('HINCRBY', KEYS[2], 'n', 1)
    if fence == 1 then redis.call('HSET', KEYS[2], 'key', ARGV[3]) end
    return {1, fence}
  end
else
  now = now_ms()
  local given = hand_off(now, owner, ttl)
  if given and given[1] == owner then return {1, given[2]} end
  if not given and redis.call('LLEN', KEYS[3]) == 0 and
      redis.call('SET', KEYS[1], owner, 'NX', 'PX', ttl) then
    return {1, redis.call('HINCRBY', KEYS[2], 'n', 1)}
  end
end
if ARGV[4] == '1' then
  now = now or now_ms()
  if not redis.call('ZSCORE', KEYS[4], owner) then redis.call('RPUSH', KEYS[3], owner) end
  redis.call('ZADD', KEYS[4], now + ttl, owner)
  local last = redis.call('ZRANGE', KEYS[4], -1, -1, 'WITHSCORES')
  redis.call('PEXPIREAT', KEYS[3], last[2])
  redis.call('PEXPIREAT', KEYS[4], last[2])
end
return {0, redis.call('PTTL', KEYS[1])}
`

/**
 * KEYS: lock, fence, queue, waiters. ARGV: owner, channel. Compare-and-delete, then hand the
 * lock to the head of the queue, if any. Returns 1 (it was `owner`'s) or 0.
 */
const RELEASE = `${HAND_OFF}
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
if redis.call('LLEN', KEYS[3]) > 0 then hand_off(now_ms(), false, 0) end
return 1
`

/**
 * KEYS: lock, fence, queue, waiters. ARGV: owner, channel. A waiter gives up: leaves the
 * queue, and releases the lock if it was handed to it meanwhile (then hands it on).
 * Returns 1 when it released a lock, else 0.
 */
const LEAVE = `${HAND_OFF}
redis.call('LREM', KEYS[3], 0, ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
local released = 0
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  released = 1
end
if redis.call('LLEN', KEYS[3]) > 0 then hand_off(now_ms(), false, 0) end
return released
`

/** KEYS: lock keys. ARGV: ttlMs, then one owner per key. Compare-and-PEXPIRE each; returns 1/0 per key. */
const RENEW_MANY = `
local out = {}
for i = 1, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[i + 1] then
    redis.call('PEXPIRE', KEYS[i], ARGV[1])
    out[i] = 1
  else
    out[i] = 0
  end
end
return out
`

/**
 * KEYS: lock, fence, queue, waiters. ARGV: channel. Deletes whoever holds it and hands it to
 * the head of the queue. Returns 1 or 0.
 */
const FORCE_RELEASE = `${HAND_OFF}
if redis.call('DEL', KEYS[1]) == 0 then return 0 end
if redis.call('LLEN', KEYS[3]) > 0 then hand_off(now_ms(), false, 0) end
return 1
`

/** KEYS: lock, fence. Returns {owner or false, PTTL, last fence or false, namespaced key or false}. */
const INSPECT = `
local f = redis.call('HMGET', KEYS[2], 'n', 'key')
return {redis.call('GET', KEYS[1]), redis.call('PTTL', KEYS[1]), f[1], f[2]}
`

type Reply<T> = Promise<T>

/** The scripted commands this driver defines on its client (EVALSHA with NOSCRIPT fallback). */
export interface BatonCommands {
  batonAcquire(
    lock: string,
    fence: string,
    queue: string,
    waiters: string,
    owner: string,
    ttlMs: number,
    key: string,
    wait: 0 | 1,
    channel: string,
  ): Reply<[0 | 1, number]>
  batonRelease(
    lock: string,
    fence: string,
    queue: string,
    waiters: string,
    owner: string,
    channel: string,
  ): Reply<0 | 1>
  batonLeave(
    lock: string,
    fence: string,
    queue: string,
    waiters: string,
    owner: string,
    channel: string,
  ): Reply<0 | 1>
  batonRenewMany(numKeys: number, ...args: Array<string | number>): Reply<Array<0 | 1>>
  batonForceRelease(
    lock: string,
    fence: string,
    queue: string,
    waiters: string,
    channel: string,
  ): Reply<0 | 1>
  batonInspect(
    lock: string,
    fence: string,
  ): Reply<[string | null, number, string | null, string | null]>
}

/** A client with the scripted commands, and pipelines that have them too. */
export type ScriptedClient = Redis & BatonCommands
/** A pipeline with the scripted commands. */
export type ScriptedPipeline = ChainableCommander & {
  [K in keyof BatonCommands]: (...args: Parameters<BatonCommands[K]>) => ScriptedPipeline
}

/** Defines the scripts on `client` (idempotent; names are prefixed `baton` to avoid clashes). */
export function defineScripts(client: Redis): ScriptedClient {
  client.defineCommand('batonAcquire', { numberOfKeys: 4, lua: ACQUIRE })
  client.defineCommand('batonRelease', { numberOfKeys: 4, lua: RELEASE })
  client.defineCommand('batonLeave', { numberOfKeys: 4, lua: LEAVE })
  client.defineCommand('batonRenewMany', { lua: RENEW_MANY })
  client.defineCommand('batonForceRelease', { numberOfKeys: 4, lua: FORCE_RELEASE })
  client.defineCommand('batonInspect', { numberOfKeys: 2, lua: INSPECT })
  return client as ScriptedClient
}

/** A hand-off message, as published on the lock's channel. */
export interface HandOff {
  /** The waiter the lock was handed to. */
  readonly owner: string
  /** Its fence, as decimal text. */
  readonly fence: string
  /** The lock's PX expiry set by the hand-off, in ms. */
  readonly pxMs: number
}

/** Parses `<owner>:<fence>:<PX>`; undefined for anything else. */
export function parseHandOff(message: string): HandOff | undefined {
  const [owner, fence, px] = message.split(':')
  const pxMs = Number(px)
  if (!owner || !fence || !Number.isFinite(pxMs)) return undefined
  return { owner, fence, pxMs }
}
