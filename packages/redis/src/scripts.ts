import type { ChainableCommander, Redis } from 'ioredis'

// Each script touches only keys of one lock or semaphore (one hash tag, one slot), except
// renewMany and renewHolders, whose keys span slots: split per slot on a Cluster.
//
// Waiters queue in Redis (a fair lock as Redisson's): KEYS[3] is a list of waiting owner ids
// in arrival order, KEYS[4] a sorted set of the same ids scored by the server time (ms) at
// which each entry expires unless its waiter runs a script again (every waiter does within a
// third of its TTL). Whenever the lock is free and a live waiter heads the queue, a script
// hands the lock to that waiter on the server (SET owner PX <its entry's remaining time>,
// HINCRBY fence) and PUBLISHes "<owner>:<fence>:<PX>" to that waiter's process alone: on
// `<channel>:<tag>` when its entry names its driver's tag, else on the lock's channel. So one
// process wakes, and nobody retries. A waiter refused while others queue sleeps at most until
// the earliest live expiry among the other entries (`backstop`): if the lock is handed to one
// of them that died, it lapses then, and no message says so. Entries of waiters that died are
// dropped when they reach the head after their expiry.

/**
 * Shared by the lock's scripts (KEYS: lock, fence, queue, waiters, readers, reader fences).
 * Queue entries are `<owner>` or `<owner>:x:<tag>` (exclusive), `<owner>:v:<value>`
 * (exclusive with an election value) and `<owner>:s` or `<owner>:s:<tag>` (shared); `<tag>`
 * names the waiter's driver, whose process alone hears of its grant (on `<channel>:<tag>`).
 * Versions before tags read `<owner>:x:<tag>` as exclusive and `<owner>:s:<tag>` as shared,
 * and publish their grant on the lock's channel, where tagged waiters listen too. While shared holders hold the lock, the lock key holds
 * `*shared` with the PX of the last reader's expiry, so the mutex's SET NX fails as for any
 * holder; the readers are a sorted set scored by each one's expiry (server ms) plus a hash
 * of their fences, both expiring with the last reader.
 *
 * The readers are valid only while the lock key says `*shared`: once it was deleted (an
 * operator, eviction) they lost their shares, and a writer may hold the key since, so every
 * script drops them first (`drop_stale_readers`) instead of writing `*shared` over the
 * writer's lock or deleting it.
 *
 * `hand_off(now, self, selfTtl)`: when the lock is free, gives it to the live head of the
 * queue; when it is free or shared, admits every consecutive shared head (a writer at the
 * head waits for the readers to drain, and readers behind it wait for it: fair, R2). Each
 * grant counts the one fence counter up and PUBLISHes "<owner>:<fence>:<PX>" to the grantee's
 * channel (not for `self`, the caller). Dead heads are dropped. Returns `self`'s fence when
 * it was granted.
 *
 * `backstop(now, entry)`: what a refused waiter (queue entry `entry`) is told to sleep for:
 * the holder's PTTL, or less when another live entry expires sooner (it may be handed the
 * lock and be dead: the lock then lapses at that expiry).
 */
const HAND_OFF = `
local SHARED = '*shared'
local CHANNEL
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function parse_entry(e)
  local i = string.find(e, ':', 1, true)
  if not i then return e, 'x', false, false end
  local kind = string.sub(e, i + 1, i + 1)
  if kind == 'v' then return string.sub(e, 1, i - 1), 'x', string.sub(e, i + 3), false end
  local tag = string.sub(e, i + 2, i + 2) == ':' and string.sub(e, i + 3)
  return string.sub(e, 1, i - 1), kind, false, tag
end
local function sync_readers()
  local last = redis.call('ZRANGE', KEYS[5], -1, -1, 'WITHSCORES')
  if #last == 0 then
    if redis.call('GET', KEYS[1]) == SHARED then redis.call('DEL', KEYS[1]) end
    redis.call('DEL', KEYS[6])
    return 0
  end
  redis.call('SET', KEYS[1], SHARED)
  redis.call('PEXPIREAT', KEYS[1], last[2])
  redis.call('PEXPIREAT', KEYS[5], last[2])
  redis.call('PEXPIREAT', KEYS[6], last[2])
  return 1
end
local function purge_readers(now)
  local gone = redis.call('ZRANGEBYSCORE', KEYS[5], '-inf', now)
  for i = 1, #gone do
    redis.call('ZREM', KEYS[5], gone[i])
    redis.call('HDEL', KEYS[6], gone[i])
  end
  local live = redis.call('ZCARD', KEYS[5])
  if live == 0 and redis.call('GET', KEYS[1]) == SHARED then redis.call('DEL', KEYS[1]) end
  return live
end
local function drop_stale_readers()
  if redis.call('GET', KEYS[1]) == SHARED then return false end
  redis.call('DEL', KEYS[5], KEYS[6])
  return true
end
local function hand_off(now, self, self_ttl)
  local held = redis.call('GET', KEYS[1])
  if held and held ~= SHARED then return false end
  local readers = 0
  if held then readers = purge_readers(now) else redis.call('DEL', KEYS[5], KEYS[6]) end
  local mine, admitted = false, 0
  local head = redis.call('LINDEX', KEYS[3], 0)
  while head do
    local expires = tonumber(redis.call('ZSCORE', KEYS[4], head) or 0)
    local owner, kind, value, tag = parse_entry(head)
    if expires > now and kind ~= 's' and readers + admitted > 0 then break end
    redis.call('LPOP', KEYS[3])
    redis.call('ZREM', KEYS[4], head)
    if expires > now then
      local ttl = expires - now
      if owner == self then ttl = self_ttl end
      local fence = redis.call('HINCRBY', KEYS[2], 'n', 1)
      if kind == 's' then
        redis.call('ZADD', KEYS[5], now + ttl, owner)
        redis.call('HSET', KEYS[6], owner, fence)
        admitted = admitted + 1
      else
        redis.call('SET', KEYS[1], owner, 'PX', ttl)
        if value then redis.call('HSET', KEYS[2], 'vo', owner, 'v', value) end
      end
      if owner == self then mine = fence
      elseif tag then redis.call('PUBLISH', CHANNEL .. ':' .. tag, owner .. ':' .. fence .. ':' .. ttl)
      else redis.call('PUBLISH', CHANNEL, owner .. ':' .. fence .. ':' .. ttl) end
      if kind ~= 's' then return mine end
    end
    head = redis.call('LINDEX', KEYS[3], 0)
  end
  if admitted > 0 then sync_readers() end
  return mine
end
local function enqueue(entry, now, ttl)
  if not redis.call('ZSCORE', KEYS[4], entry) then redis.call('RPUSH', KEYS[3], entry) end
  redis.call('ZADD', KEYS[4], now + ttl, entry)
  local last = redis.call('ZRANGE', KEYS[4], -1, -1, 'WITHSCORES')
  redis.call('PEXPIREAT', KEYS[3], last[2])
  redis.call('PEXPIREAT', KEYS[4], last[2])
end
local function backstop(now, entry)
  local pttl = redis.call('PTTL', KEYS[1])
  local first = redis.call('ZRANGEBYSCORE', KEYS[4], '(' .. now, '+inf', 'WITHSCORES', 'LIMIT', 0, 2)
  for i = 1, #first, 2 do
    if first[i] ~= entry then
      local ms = tonumber(first[i + 1]) - now
      if pttl < 0 or ms < pttl then pttl = ms end
      return pttl
    end
  end
  return pttl
end
`

/**
 * KEYS: lock, fence, queue, waiters, readers, reader fences. ARGV: owner, ttlMs, namespaced
 * key, wait (1: join or refresh the queue when not granted), channel, [queue entry, value].
 * Returns {1, fence} or {0, holder PTTL} (with `wait`: `backstop`'s sleep). With no queue this is SET NX PX plus the fence, as
 * without fairness (readers hold the lock key too, so they refuse it). A waiter the lock was
 * handed to (its message not seen yet) gets {1, fence} with the expiry reset to ttlMs.
 * The uncontended grant (and refusal without `wait`) returns before HAND_OFF's functions
 * are defined: three commands, no closures made.
 */
export const ACQUIRE = `
local owner, ttl = ARGV[1], tonumber(ARGV[2])
if ARGV[4] == '1' and redis.call('GET', KEYS[1]) == owner then
  redis.call('PEXPIRE', KEYS[1], ttl)
  return {1, tonumber(redis.call('HGET', KEYS[2], 'n'))}
end
local queued = redis.call('LLEN', KEYS[3]) > 0
if not queued then
  if redis.call('SET', KEYS[1], owner, 'NX', 'PX', ttl) then
    local fence = redis.call('HINCRBY', KEYS[2], 'n', 1)
    if fence == 1 then redis.call('HSET', KEYS[2], 'key', ARGV[3]) end
    if ARGV[7] then redis.call('HSET', KEYS[2], 'vo', owner, 'v', ARGV[7]) end
    return {1, fence}
  end
  if ARGV[4] ~= '1' then return {0, redis.call('PTTL', KEYS[1])} end
end
${HAND_OFF}
CHANNEL = ARGV[5]
local now = now_ms()
if queued then
  local mine = hand_off(now, owner, ttl)
  if mine then return {1, mine} end
  if redis.call('LLEN', KEYS[3]) == 0 and
      redis.call('SET', KEYS[1], owner, 'NX', 'PX', ttl) then
    local fence = redis.call('HINCRBY', KEYS[2], 'n', 1)
    if ARGV[7] then redis.call('HSET', KEYS[2], 'vo', owner, 'v', ARGV[7]) end
    return {1, fence}
  end
end
if ARGV[4] == '1' then
  local entry = ARGV[6] or owner
  enqueue(entry, now, ttl)
  return {0, backstop(now, entry)}
end
return {0, redis.call('PTTL', KEYS[1])}
`

/**
 * KEYS as ACQUIRE. ARGV: owner, ttlMs, namespaced key, wait, channel, [queue entry]. A
 * shared holder: joins the readers when the lock is free or shared and nobody queues
 * (readers behind a queued writer wait for it, R2), else queues as the entry (default
 * `<owner>:s`). Returns {1, fence} or {0, PTTL} (with `wait`: `backstop`'s sleep).
 */
const ACQUIRE_SHARED = `${HAND_OFF}
CHANNEL = ARGV[5]
local owner, ttl = ARGV[1], tonumber(ARGV[2])
local now = now_ms()
if not drop_stale_readers() then purge_readers(now) end
if ARGV[4] == '1' then
  local mine = redis.call('HGET', KEYS[6], owner)
  if mine and redis.call('ZSCORE', KEYS[5], owner) then
    redis.call('ZADD', KEYS[5], now + ttl, owner)
    sync_readers()
    return {1, tonumber(mine)}
  end
end
if redis.call('LLEN', KEYS[3]) > 0 then
  local mine = hand_off(now, owner, ttl)
  if mine then return {1, mine} end
end
if redis.call('LLEN', KEYS[3]) == 0 then
  local held = redis.call('GET', KEYS[1])
  if not held or held == SHARED then
    local fence = redis.call('HINCRBY', KEYS[2], 'n', 1)
    if fence == 1 then redis.call('HSET', KEYS[2], 'key', ARGV[3]) end
    redis.call('ZADD', KEYS[5], now + ttl, owner)
    redis.call('HSET', KEYS[6], owner, fence)
    sync_readers()
    return {1, fence}
  end
end
if ARGV[4] == '1' then
  local entry = ARGV[6] or (owner .. ':s')
  enqueue(entry, now, ttl)
  return {0, backstop(now, entry)}
end
return {0, redis.call('PTTL', KEYS[1])}
`

/**
 * KEYS: lock, fence, queue. ARGV: owner, ttlMs, namespaced key, [value]. The mutex's try:
 * `SET NX PX` plus the fence when nobody queues, in three commands and without the keys
 * and arguments only a queue needs (each declared key and argument costs the server and
 * the client on every call). Returns the fence (>= 1) when granted; 0 when someone queues
 * (the caller then runs ACQUIRE, which hands a free lock to the queue's head, or waits);
 * else `-3 - PTTL` of the holder (PTTL -2 and -1 answer -1 and -2). One integer, no table.
 */
export const TRY_ACQUIRE = `
if redis.call('LLEN', KEYS[3]) > 0 then return 0 end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  local fence = redis.call('HINCRBY', KEYS[2], 'n', 1)
  if fence == 1 then redis.call('HSET', KEYS[2], 'key', ARGV[3]) end
  if ARGV[4] then redis.call('HSET', KEYS[2], 'vo', ARGV[1], 'v', ARGV[4]) end
  return fence
end
return -3 - redis.call('PTTL', KEYS[1])
`

/** TRY_ACQUIRE's answer when someone queues. */
export const TRY_QUEUED = 0

/** The holder's PTTL that a refusing TRY_ACQUIRE answer (< 0) encodes. */
export function pttlOfTry(reply: number): number {
  return -3 - reply
}

/** ACQUIRE's `[1, fence]` or `[0, PTTL]` as TRY_ACQUIRE would answer it (never TRY_QUEUED). */
export function asTryReply([granted, value]: [0 | 1, number]): number {
  return granted === 1 ? value : -3 - value
}

/**
 * KEYS: lock, fence, queue, waiters, readers, reader fences. ARGV: owner. Compare-and-
 * delete, then hand the lock to the head of the queue, if any, publishing on the lock's
 * channel (its name is the lock key's with `:released` for `:lock`: no argument to send
 * on every release). Returns 1 (it was `owner`'s) or 0. With nobody queued it returns
 * before HAND_OFF's functions are defined.
 */
export const RELEASE = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
if redis.call('LLEN', KEYS[3]) == 0 then return 1 end
${HAND_OFF}
CHANNEL = string.sub(KEYS[1], 1, -6) .. ':released'
hand_off(now_ms(), false, 0)
return 1
`

/**
 * KEYS as RELEASE. ARGV: owner, channel. A shared holder leaves the readers; the last one
 * frees the lock key and hands the lock on. Returns 1 (it held a live share) or 0.
 */
const RELEASE_SHARED = `${HAND_OFF}
CHANNEL = ARGV[2]
local score = redis.call('ZSCORE', KEYS[5], ARGV[1])
if not score then return 0 end
local now = now_ms()
if drop_stale_readers() then
  if redis.call('LLEN', KEYS[3]) > 0 then hand_off(now, false, 0) end
  return 0
end
redis.call('ZREM', KEYS[5], ARGV[1])
redis.call('HDEL', KEYS[6], ARGV[1])
if purge_readers(now) > 0 then sync_readers() end
if redis.call('LLEN', KEYS[3]) > 0 then hand_off(now, false, 0) end
if tonumber(score) > now then return 1 end
return 0
`

/**
 * KEYS as RELEASE. ARGV: owner, channel, queue entry (default: owner). A waiter gives up:
 * leaves the queue, and releases the lock (or its share) if it was handed to it meanwhile
 * (then hands it on). Returns 1 when it released something, else 0.
 */
const LEAVE = `${HAND_OFF}
CHANNEL = ARGV[2]
local entry = ARGV[3] or ARGV[1]
redis.call('LREM', KEYS[3], 0, entry)
redis.call('ZREM', KEYS[4], entry)
local released = 0
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  released = 1
elseif not drop_stale_readers() and redis.call('ZREM', KEYS[5], ARGV[1]) == 1 then
  redis.call('HDEL', KEYS[6], ARGV[1])
  if purge_readers(now_ms()) > 0 then sync_readers() end
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
 * KEYS: per lease, its holders' sorted set, their fence hash and the key that expires with
 * the last holder (the lock key of a shared lease; the sorted set again for a semaphore).
 * ARGV: ttlMs, then one owner per lease. Moves each live holder's expiry to now + ttlMs and
 * the keys' expiry to the last holder's; returns 1/0 per lease (0 also for a reader whose
 * lock key no longer says `*shared`: someone deleted it, a writer may hold it now).
 */
const RENEW_HOLDERS = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[1])
local out = {}
for i = 1, #KEYS / 3 do
  local z, h, g, owner = KEYS[3 * i - 2], KEYS[3 * i - 1], KEYS[3 * i], ARGV[i + 1]
  local score = redis.call('ZSCORE', z, owner)
  if score and g ~= z and redis.call('GET', g) ~= '*shared' then score = false end
  if score and tonumber(score) > now then
    redis.call('ZADD', z, now + ttl, owner)
    local last = redis.call('ZRANGE', z, -1, -1, 'WITHSCORES')
    redis.call('PEXPIREAT', z, last[2])
    redis.call('PEXPIREAT', h, last[2])
    if g ~= z then redis.call('PEXPIREAT', g, last[2]) end
    out[i] = 1
  else
    out[i] = 0
  end
end
return out
`

/**
 * KEYS as RELEASE. ARGV: channel. Deletes whoever holds it (exclusive or every reader) and
 * hands it to the head of the queue. Returns 1 or 0.
 */
const FORCE_RELEASE = `${HAND_OFF}
CHANNEL = ARGV[1]
redis.call('DEL', KEYS[5], KEYS[6])
if redis.call('DEL', KEYS[1]) == 0 then return 0 end
if redis.call('LLEN', KEYS[3]) > 0 then hand_off(now_ms(), false, 0) end
return 1
`

/**
 * KEYS: lock, fence, readers. Returns {owner or '*shared' or false, PTTL, last fence or
 * false, namespaced key or false, value owner, value, live readers, first live reader}.
 */
const INSPECT = `
local f = redis.call('HMGET', KEYS[2], 'n', 'key', 'vo', 'v')
local held = redis.call('GET', KEYS[1])
local readers, first = 0, false
if held == '*shared' then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  readers = redis.call('ZCOUNT', KEYS[3], '(' .. now, '+inf')
  first = redis.call('ZRANGEBYSCORE', KEYS[3], '(' .. now, '+inf', 'LIMIT', 0, 1)[1] or false
end
return {held, redis.call('PTTL', KEYS[1]), f[1], f[2], f[3], f[4], readers, first}
`

/**
 * Shared by the semaphore's scripts. KEYS: holders (sorted set of owner ids scored by each
 * permit's expiry, server ms), fence (hash { n, key, limit }, never expires), queue,
 * waiters (as the lock's), holder fences (hash owner -> fence). The holders and their
 * fences expire with the last permit. `hand_off` admits live queue heads while fewer than
 * the stored limit hold a permit, PUBLISHing "<owner>:<fence>:<PX>" to each but `self`.
 */
const SEMAPHORE = `
local CHANNEL
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function purge(now)
  local gone = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)
  for i = 1, #gone do
    redis.call('ZREM', KEYS[1], gone[i])
    redis.call('HDEL', KEYS[5], gone[i])
  end
  return redis.call('ZCARD', KEYS[1])
end
local function sync()
  local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
  if #last == 0 then redis.call('DEL', KEYS[5]) return end
  redis.call('PEXPIREAT', KEYS[1], last[2])
  redis.call('PEXPIREAT', KEYS[5], last[2])
end
local function grant(owner, expires)
  local fence = redis.call('HINCRBY', KEYS[2], 'n', 1)
  redis.call('ZADD', KEYS[1], expires, owner)
  redis.call('HSET', KEYS[5], owner, fence)
  return fence
end
local function hand_off(now, self, self_ttl)
  local limit = tonumber(redis.call('HGET', KEYS[2], 'limit') or 1)
  local count = purge(now)
  local mine = false
  local head = redis.call('LINDEX', KEYS[3], 0)
  while head and count < limit do
    local expires = tonumber(redis.call('ZSCORE', KEYS[4], head) or 0)
    redis.call('LPOP', KEYS[3])
    redis.call('ZREM', KEYS[4], head)
    if expires > now then
      local ttl = expires - now
      if head == self then ttl = self_ttl end
      local fence = grant(head, now + ttl)
      count = count + 1
      if head == self then mine = fence
      else redis.call('PUBLISH', CHANNEL, head .. ':' .. fence .. ':' .. ttl) end
    end
    head = redis.call('LINDEX', KEYS[3], 0)
  end
  sync()
  return mine
end
`

/**
 * KEYS: holders, fence, queue, waiters, holder fences. ARGV: owner, ttlMs, namespaced key,
 * wait, channel, limit. Returns {1, fence}, {0, ms until the first permit expires (-2: none)}
 * or {2, the holders' limit} when they use another one.
 */
const SEMAPHORE_ACQUIRE = `${SEMAPHORE}
CHANNEL = ARGV[5]
local owner, ttl, limit = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[6])
local now = now_ms()
local count = purge(now)
if ARGV[4] == '1' and count > 0 then
  local mine = redis.call('HGET', KEYS[5], owner)
  if mine and redis.call('ZSCORE', KEYS[1], owner) then
    redis.call('ZADD', KEYS[1], now + ttl, owner)
    sync()
    return {1, tonumber(mine)}
  end
end
if redis.call('LLEN', KEYS[3]) > 0 then
  local mine = hand_off(now, owner, ttl)
  if mine then return {1, mine} end
  count = redis.call('ZCARD', KEYS[1])
end
local queued = redis.call('LLEN', KEYS[3])
if count == 0 and queued == 0 then redis.call('HSET', KEYS[2], 'limit', limit) end
local held = tonumber(redis.call('HGET', KEYS[2], 'limit') or limit)
if held ~= limit then return {2, held} end
if queued == 0 and count < limit then
  local fence = grant(owner, now + ttl)
  if fence == 1 then redis.call('HSET', KEYS[2], 'key', ARGV[3]) end
  sync()
  return {1, fence}
end
if ARGV[4] == '1' then
  if not redis.call('ZSCORE', KEYS[4], owner) then redis.call('RPUSH', KEYS[3], owner) end
  redis.call('ZADD', KEYS[4], now + ttl, owner)
  local last = redis.call('ZRANGE', KEYS[4], -1, -1, 'WITHSCORES')
  redis.call('PEXPIREAT', KEYS[3], last[2])
  redis.call('PEXPIREAT', KEYS[4], last[2])
end
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if #first == 0 then return {0, -2} end
return {0, tonumber(first[2]) - now}
`

/**
 * KEYS as SEMAPHORE_ACQUIRE. ARGV: owner, channel, leave (1: also leave the queue). Gives
 * back `owner`'s permit and admits the next waiters. Returns 1 (a live permit) or 0.
 */
const SEMAPHORE_RELEASE = `${SEMAPHORE}
CHANNEL = ARGV[2]
if ARGV[3] == '1' then
  redis.call('LREM', KEYS[3], 0, ARGV[1])
  redis.call('ZREM', KEYS[4], ARGV[1])
end
local now = now_ms()
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if score then
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('HDEL', KEYS[5], ARGV[1])
end
if redis.call('LLEN', KEYS[3]) > 0 then hand_off(now, false, 0) else purge(now) sync() end
if score and tonumber(score) > now then return 1 end
return 0
`

/** KEYS: holders, fence. Returns {live permits, limit, last fence, ms until the last permit expires}. */
const SEMAPHORE_INSPECT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local f = redis.call('HMGET', KEYS[2], 'limit', 'n')
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
local left = -2
if #last > 0 then left = tonumber(last[2]) - now end
return {redis.call('ZCOUNT', KEYS[1], '(' .. now, '+inf'), f[1], f[2], left}
`

type Reply<T> = Promise<T>
/** The six keys of a lock: lock, fence, queue, waiters, readers, reader fences. */
type Six = [string, string, string, string, string, string]
/** The five keys of a semaphore: holders, fence, queue, waiters, holder fences. */
type Five = [string, string, string, string, string]

/** The scripted commands this driver defines on its client (EVALSHA with NOSCRIPT fallback). */
export interface BatonCommands {
  batonAcquire(
    ...args: [...Six, string, number, string, 0 | 1, string, ...string[]]
  ): Reply<[0 | 1, number]>
  batonAcquireShared(
    ...args: [...Six, string, number, string, 0 | 1, string, ...string[]]
  ): Reply<[0 | 1, number]>
  batonRelease(...args: [...Six, string]): Reply<0 | 1>
  batonReleaseShared(...args: [...Six, string, string]): Reply<0 | 1>
  batonLeave(...args: [...Six, string, string, ...string[]]): Reply<0 | 1>
  batonRenewMany(numKeys: number, ...args: Array<string | number>): Reply<Array<0 | 1>>
  batonRenewHolders(numKeys: number, ...args: Array<string | number>): Reply<Array<0 | 1>>
  batonForceRelease(...args: [...Six, string]): Reply<0 | 1>
  batonInspect(
    lock: string,
    fence: string,
    readers: string,
  ): Reply<
    [
      string | null,
      number,
      string | null,
      string | null,
      string | null,
      string | null,
      number,
      string | null,
    ]
  >
  batonSemAcquire(
    ...args: [...Five, string, number, string, 0 | 1, string, number]
  ): Reply<[0 | 1 | 2, number | null]>
  batonSemRelease(...args: [...Five, string, string, 0 | 1]): Reply<0 | 1>
  batonSemInspect(
    holders: string,
    fence: string,
  ): Reply<[number, string | null, string | null, number]>
}

/** A client with the scripted commands, and pipelines that have them too. */
export type ScriptedClient = Redis & BatonCommands
/** A pipeline with the scripted commands. */
export type ScriptedPipeline = ChainableCommander & {
  [K in keyof BatonCommands]: (...args: Parameters<BatonCommands[K]>) => ScriptedPipeline
}

/** Defines the scripts on `client` (idempotent; names are prefixed `baton` to avoid clashes). */
export function defineScripts(client: Redis): ScriptedClient {
  client.defineCommand('batonAcquire', { numberOfKeys: 6, lua: ACQUIRE })
  client.defineCommand('batonAcquireShared', { numberOfKeys: 6, lua: ACQUIRE_SHARED })
  client.defineCommand('batonRelease', { numberOfKeys: 6, lua: RELEASE })
  client.defineCommand('batonReleaseShared', { numberOfKeys: 6, lua: RELEASE_SHARED })
  client.defineCommand('batonLeave', { numberOfKeys: 6, lua: LEAVE })
  client.defineCommand('batonRenewMany', { lua: RENEW_MANY })
  client.defineCommand('batonRenewHolders', { lua: RENEW_HOLDERS })
  client.defineCommand('batonForceRelease', { numberOfKeys: 6, lua: FORCE_RELEASE })
  client.defineCommand('batonInspect', { numberOfKeys: 3, lua: INSPECT })
  client.defineCommand('batonSemAcquire', { numberOfKeys: 5, lua: SEMAPHORE_ACQUIRE })
  client.defineCommand('batonSemRelease', { numberOfKeys: 5, lua: SEMAPHORE_RELEASE })
  client.defineCommand('batonSemInspect', { numberOfKeys: 2, lua: SEMAPHORE_INSPECT })
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
