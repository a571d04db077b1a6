import type { Redis } from 'ioredis'
import type { QuorumKeys } from './plain-layout.js'
import { respBulk, ScriptCall, ScriptKeys } from './script-call.js'

// The quorum driver's per-node scripts. Each touches one lock's keys (one slot). The lock key
// protocol is the common one (SET key token NX PX, compare-and-delete, compare-and-PEXPIRE),
// so the plain layout is redis-py's `Lock` protocol exactly.

/**
 * KEYS: lock, fence. ARGV: owner, ttlMs, namespaced key. Returns {1, counter} when granted
 * (counter incremented), {1, counter} too when `owner` already holds it (a retry: PX reset,
 * counter unchanged), else {0, holder PTTL}.
 */
const ACQUIRE = `
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  local n = redis.call('HINCRBY', KEYS[2], 'n', 1)
  redis.call('HSET', KEYS[2], 'key', ARGV[3])
  return {1, n}
end
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {1, tonumber(redis.call('HGET', KEYS[2], 'n') or '0')}
end
return {0, redis.call('PTTL', KEYS[1])}
`

/** KEYS: lock, fence. ARGV: owner, fence. While `owner` holds the lock, raises the counter to `fence`. 1 or 0. */
const RAISE = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
local n = tonumber(redis.call('HGET', KEYS[2], 'n') or '0')
if n < tonumber(ARGV[2]) then redis.call('HSET', KEYS[2], 'n', ARGV[2]) end
return 1
`

/** KEYS: lock. ARGV: owner, channel. Compare-and-delete, then PUBLISH. 1 or 0. */
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', ARGV[2], '')
  return 1
end
return 0
`

/** KEYS: lock. ARGV: owner, ttlMs. Compare-and-PEXPIRE. 1 or 0. */
const RENEW = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
`

/** KEYS: lock. ARGV: channel. DEL whoever holds it, then PUBLISH. 1 or 0. */
const FORCE_RELEASE = `
if redis.call('DEL', KEYS[1]) == 1 then
  redis.call('PUBLISH', ARGV[1], '')
  return 1
end
return 0
`

/** KEYS: lock, fence. Returns {owner or false, PTTL, counter or false, namespaced key or false}. */
const INSPECT = `
local f = redis.call('HMGET', KEYS[2], 'n', 'key')
return {redis.call('GET', KEYS[1]), redis.call('PTTL', KEYS[1]), f[1], f[2]}
`

type Reply<T> = Promise<T>

/** The scripted commands of one quorum node. */
export interface QuorumCommands {
  quorumAcquire(
    lock: string,
    fence: string,
    owner: string,
    ttlMs: number,
    key: string,
  ): Reply<[0 | 1, number]>
  quorumRaise(lock: string, fence: string, owner: string, fenceValue: string): Reply<0 | 1>
  quorumRelease(lock: string, owner: string, channel: string): Reply<0 | 1>
  quorumRenew(lock: string, owner: string, ttlMs: number): Reply<0 | 1>
  quorumForceRelease(lock: string, channel: string): Reply<0 | 1>
  quorumInspect(
    lock: string,
    fence: string,
  ): Reply<[string | null, number, string | null, string | null]>
}

export type QuorumClient = Redis & QuorumCommands

/** Defines the scripts on one node's client (idempotent). */
export function defineQuorumScripts(client: Redis): QuorumClient {
  client.defineCommand('quorumAcquire', { numberOfKeys: 2, lua: ACQUIRE })
  client.defineCommand('quorumRaise', { numberOfKeys: 2, lua: RAISE })
  client.defineCommand('quorumRelease', { numberOfKeys: 1, lua: RELEASE })
  client.defineCommand('quorumRenew', { numberOfKeys: 1, lua: RENEW })
  client.defineCommand('quorumForceRelease', { numberOfKeys: 1, lua: FORCE_RELEASE })
  client.defineCommand('quorumInspect', { numberOfKeys: 2, lua: INSPECT })
  return client as QuorumClient
}

const ACQUIRE_CALL = new ScriptCall(ACQUIRE)
const RELEASE_CALL = new ScriptCall(RELEASE)

/**
 * A lock's quorum keys with what a `ScriptCall` sends of them, made once per key (the
 * driver keeps them in a `LockKeyCache`): the acquire's keys (lock, fence) and the
 * release's (lock) RESP-encoded, and the namespaced key and the channel as bulk strings.
 */
export interface QuorumCallKeys extends QuorumKeys {
  readonly acquireKeys: ScriptKeys
  readonly releaseKeys: ScriptKeys
  /** The namespaced key (ACQUIRE's third argument), RESP-encoded. */
  readonly keyArg: string
  /** The channel (RELEASE's second argument), RESP-encoded. */
  readonly channelArg: string
}

/** `keys` of namespaced key `key` with their encodings for `quorumAcquireOn` and `quorumReleaseOn`. */
export function quorumCallKeys(keys: QuorumKeys, key: string): QuorumCallKeys {
  return {
    lock: keys.lock,
    fence: keys.fence,
    channel: keys.channel,
    acquireKeys: new ScriptKeys([keys.lock, keys.fence]),
    releaseKeys: new ScriptKeys([keys.lock]),
    keyArg: respBulk(key),
    channelArg: respBulk(keys.channel),
  }
}

/**
 * ACQUIRE on one node. With `direct` (a client without ioredis' \`keyPrefix\`) it goes as
 * a `ScriptCall`: the keys' encoding made once per lock, no argument copies, and the
 * command timeout kept without a timer per command (about 15 µs of client CPU per quorum
 * round against \`defineCommand\`). A client with a \`keyPrefix\` goes through
 * \`defineCommand\`, which prefixes the keys as it does for every other command of the node.
 */
export function quorumAcquireOn(
  client: QuorumClient,
  direct: boolean,
  keys: QuorumCallKeys,
  owner: string,
  ttlMs: number,
  key: string,
): Promise<[0 | 1, number]> {
  if (!direct) return client.quorumAcquire(keys.lock, keys.fence, owner, ttlMs, key)
  const args = { resp: respBulk(owner) + respBulk(ttlMs) + keys.keyArg, count: 3 }
  return ACQUIRE_CALL.run(client, keys.acquireKeys, args) as Promise<[0 | 1, number]>
}

/** RELEASE on one node, sent as `quorumAcquireOn` sends ACQUIRE. */
export function quorumReleaseOn(
  client: QuorumClient,
  direct: boolean,
  keys: QuorumCallKeys,
  owner: string,
): Promise<0 | 1> {
  if (!direct) return client.quorumRelease(keys.lock, owner, keys.channel)
  const args = { resp: respBulk(owner) + keys.channelArg, count: 2 }
  return RELEASE_CALL.run(client, keys.releaseKeys, args) as Promise<0 | 1>
}
