import type { ChainableCommander, Redis } from 'ioredis'

// Each script touches only keys of one lock (one hash tag, one slot), except renewMany, whose
// keys span slots: fine on a standalone server, split per slot before Cluster support lands.

/** KEYS: lock, fence. ARGV: owner, ttlMs, namespaced key. Returns {1, fence} or {0, holder PTTL}. */
const ACQUIRE = `
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  local fence = redis.call('HINCRBY', KEYS[2], 'n', 1)
  if fence == 1 then redis.call('HSET', KEYS[2], 'key', ARGV[3]) end
  return {1, fence}
end
return {0, redis.call('PTTL', KEYS[1])}
`

/** KEYS: lock. ARGV: owner, channel. Compare-and-delete, then wake waiters. Returns 1 or 0. */
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', ARGV[2], '')
  return 1
end
return 0
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

/** KEYS: lock. ARGV: channel. Deletes whoever holds it and wakes waiters. Returns 1 or 0. */
const FORCE_RELEASE = `
if redis.call('DEL', KEYS[1]) == 1 then
  redis.call('PUBLISH', ARGV[1], '')
  return 1
end
return 0
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
    owner: string,
    ttlMs: number,
    key: string,
  ): Reply<[0 | 1, number]>
  batonRelease(lock: string, owner: string, channel: string): Reply<0 | 1>
  batonRenewMany(numKeys: number, ...args: Array<string | number>): Reply<Array<0 | 1>>
  batonForceRelease(lock: string, channel: string): Reply<0 | 1>
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
  client.defineCommand('batonAcquire', { numberOfKeys: 2, lua: ACQUIRE })
  client.defineCommand('batonRelease', { numberOfKeys: 1, lua: RELEASE })
  client.defineCommand('batonRenewMany', { lua: RENEW_MANY })
  client.defineCommand('batonForceRelease', { numberOfKeys: 1, lua: FORCE_RELEASE })
  client.defineCommand('batonInspect', { numberOfKeys: 2, lua: INSPECT })
  return client as ScriptedClient
}
