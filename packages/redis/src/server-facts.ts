import type { Redis } from 'ioredis'

/** What the driver learned about the server at connect. */
export interface ServerFacts {
  /** INFO `run_id`: changes on every server restart (and on failover to another node); undefined without INFO. */
  readonly runId: string | undefined
  /** Redis version, e.g. "7.0.15". */
  readonly version: string | undefined
  /** True when the append-only file is on: lock and fence keys survive a restart (false when unreadable). */
  readonly aof: boolean
  /** `maxmemory-policy`, e.g. "noeviction"; undefined when neither INFO nor CONFIG may be read. */
  readonly maxmemoryPolicy: string | undefined
  /** `maxmemory` in bytes; 0 means no limit. */
  readonly maxmemoryBytes: number | undefined
}

/** Parses an INFO reply into `field -> value`. */
export function parseInfo(text: string): Map<string, string> {
  const fields = new Map<string, string>()
  for (const line of text.split(/\r?\n/)) {
    const at = line.indexOf(':')
    if (at > 0 && !line.startsWith('#')) fields.set(line.slice(0, at), line.slice(at + 1).trim())
  }
  return fields
}

/** Reads the run id with `INFO server`. */
export async function readRunId(client: Redis): Promise<string | undefined> {
  return parseInfo(await client.info('server')).get('run_id')
}

/**
 * Reads run id, persistence and eviction settings. INFO carries all of them (`aof_enabled`,
 * `maxmemory_policy`), so this works where `CONFIG` is renamed or disabled (managed services);
 * CONFIG GET is the fallback where INFO lacks a field.
 */
export async function readServerFacts(client: Redis): Promise<ServerFacts> {
  // An ACL user may lack INFO (NOPERM): fall back on CONFIG, else on conservative defaults.
  const text = await client.info().catch((err: unknown) => {
    if (err instanceof Error && err.message.startsWith('NOPERM')) return ''
    throw err
  })
  const info = parseInfo(text)
  let aof = info.get('aof_enabled')
  let policy = info.get('maxmemory_policy')
  if (aof === undefined) aof = (await configGet(client, 'appendonly')) === 'yes' ? '1' : '0'
  policy ??= await configGet(client, 'maxmemory-policy')
  const maxmemory = info.get('maxmemory')
  return {
    runId: info.get('run_id'),
    version: info.get('redis_version'),
    aof: aof === '1',
    maxmemoryPolicy: policy,
    maxmemoryBytes: maxmemory === undefined ? undefined : Number(maxmemory),
  }
}

/**
 * Lock keys carry a TTL, so every policy but `noeviction` may evict a HELD lock under memory
 * pressure (`volatile-*` policies pick exactly keys with a TTL; `allkeys-*` also fence hashes),
 * letting a second holder in while the first still believes it holds the lock.
 */
export function evictionWarning(facts: ServerFacts): string | undefined {
  const policy = facts.maxmemoryPolicy
  if (policy === undefined || policy === 'noeviction') return undefined
  const limit = facts.maxmemoryBytes
    ? `maxmemory ${facts.maxmemoryBytes} bytes`
    : 'maxmemory unset today'
  return `redis maxmemory-policy is "${policy}" (${limit}): under memory pressure the server may evict held lock keys, breaking mutual exclusion; use "noeviction" on the lock server`
}

/** Warnings about client options that break the driver's safety assumptions. */
export function clientOptionWarnings(client: Redis): string[] {
  const o = client.options
  const warnings: string[] = []
  if (o.enableOfflineQueue !== false) {
    warnings.push(
      'the injected ioredis client has enableOfflineQueue on: a lock command issued while disconnected is queued and may run late; create it with enableOfflineQueue: false',
    )
  }
  if (o.autoResendUnfulfilledCommands !== false) {
    warnings.push(
      'the injected ioredis client resends unfulfilled commands after a reconnect; create it with autoResendUnfulfilledCommands: false',
    )
  }
  if (o.commandTimeout === undefined) {
    warnings.push(
      'the injected ioredis client has no commandTimeout: a hung server stalls lock calls until TCP gives up',
    )
  }
  return warnings
}

async function configGet(client: Redis, name: string): Promise<string | undefined> {
  const reply = (await client.config('GET', name).catch(() => [])) as unknown[]
  return reply.length >= 2 ? String(reply[1]) : undefined
}
