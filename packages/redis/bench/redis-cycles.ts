/**
 * Client CPU and throughput of Baton's Redis driver against the hand-written floor, in one
 * process, contenders interleaved in shuffled blocks (so machine load hits both alike).
 * Not part of the published API. After `pnpm -r build`: `pnpm --filter @baton-lock/redis bench`
 * (compiles this folder to .cache/bench). Modes (argv[2]):
 *   uncontended  one key, acquire + release in a loop (default)
 *   keys         16 independent keys at once, one Locker / one connection
 *   profile      Baton's uncontended loop only, for `node --cpu-prof`
 *   handoff      4 Lockers (own drivers and connections) on one key, hold 2 ms: scripts per
 *                grant, acquire latency, share of the least busy (argv[4]: number of Lockers)
 */
import { randomBytes } from 'node:crypto'
import { cpus, loadavg } from 'node:os'
import { Locker } from '@baton-lock/core'
import { RedisDriver } from '@baton-lock/redis'
import { startRedis } from '@baton-lock/test-matrix'
import { Redis } from 'ioredis'

const RELEASE_LUA = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`
const BLOCK_MS = 200
const TTL_MS = 30_000

type Cycle = (key: string) => Promise<void>
type FloorRedis = Redis & { floorRelease(key: string, owner: string): Promise<number> }

async function floor(url: string): Promise<{ cycle: Cycle; close: () => Promise<void> }> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 }) as FloorRedis
  redis.defineCommand('floorRelease', { numberOfKeys: 1, lua: RELEASE_LUA })
  await redis.connect()
  return {
    async cycle(key) {
      const owner = randomBytes(16).toString('hex')
      if ((await redis.set(key, owner, 'PX', TTL_MS, 'NX')) !== 'OK')
        throw new Error('floor: taken')
      await redis.floorRelease(key, owner)
    },
    close: async () => {
      await redis.quit()
    },
  }
}

async function baton(url: string): Promise<{ cycle: Cycle; close: () => Promise<void> }> {
  const locker = new Locker(await RedisDriver.connect({ url, onWarning: () => {} }), {
    ttlMs: TTL_MS,
  })
  return {
    async cycle(key) {
      const handle = await locker.acquire(key, { waitMs: 5_000 })
      await handle.release()
    },
    close: () => locker.close(),
  }
}

interface Tally {
  cycles: number
  wallMs: number
  cpuUs: number
}

/** Runs `parallel` loops of `cycle` on distinct keys for `ms`; returns cycles, wall and CPU. */
async function block(cycle: Cycle, keys: string[], ms: number, tally: Tally): Promise<void> {
  const cpu = process.cpuUsage()
  const started = performance.now()
  const endAt = started + ms
  await Promise.all(
    keys.map(async (key) => {
      while (performance.now() < endAt) {
        await cycle(key)
        tally.cycles += 1
      }
    }),
  )
  tally.wallMs += performance.now() - started
  const used = process.cpuUsage(cpu)
  tally.cpuUs += used.user + used.system
}

const quantile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN

async function scriptCalls(raw: Redis): Promise<number> {
  const stats = await raw.info('commandstats')
  let calls = 0
  for (const c of ['eval', 'evalsha']) {
    calls += Number(new RegExp(`cmdstat_${c}:calls=(\\d+)`).exec(stats)?.[1] ?? 0)
  }
  return calls
}

async function handoff(url: string, seconds: number, lockers: number): Promise<void> {
  const raw = new Redis(url)
  const all = await Promise.all(
    Array.from({ length: lockers }, async () => {
      const driver = await RedisDriver.connect({ url, onWarning: () => {} })
      return new Locker(driver, { ttlMs: TTL_MS })
    }),
  )
  const waits: number[] = []
  const grants = all.map(() => 0)
  let releases = 0
  const before = await scriptCalls(raw)
  const load = loadavg()[0] ?? 0
  const endAt = performance.now() + seconds * 1000
  await Promise.all(
    all.map(async (locker, i) => {
      while (performance.now() < endAt) {
        const askedAt = performance.now()
        const handle = await locker.acquire('bench:handoff', { waitMs: 10_000 })
        waits.push(performance.now() - askedAt)
        grants[i] = (grants[i] ?? 0) + 1
        await new Promise((resolve) => setTimeout(resolve, 2))
        await handle.release()
        releases += 1
      }
    }),
  )
  const scripts = (await scriptCalls(raw)) - before
  const total = grants.reduce((a, b) => a + b, 0)
  const sorted = waits.sort((a, b) => a - b)
  console.log(
    `handoff: ${lockers} Lockers, ${seconds} s, load ${load.toFixed(1)} -> ${(loadavg()[0] ?? 0).toFixed(1)}: ` +
      `${total} grants, ${((scripts - releases) / total).toFixed(2)} acquire scripts per grant, ` +
      `acquire p50 ${quantile(sorted, 0.5)?.toFixed(2)} ms, p99 ${quantile(sorted, 0.99)?.toFixed(2)} ms, ` +
      `least busy ${((100 * Math.min(...grants)) / total).toFixed(1)}%`,
  )
  await Promise.all(all.map((l) => l.close()))
  raw.disconnect()
}

async function main(): Promise<void> {
  const mode = process.argv[2] ?? 'uncontended'
  const seconds = Number(process.argv[3] ?? 10)
  const server = await startRedis()
  try {
    if (mode === 'handoff') {
      await handoff(server.url, seconds, Number(process.argv[4] ?? 4))
      return
    }
    const parallel = mode === 'keys' ? 16 : 1
    const contenders = {
      floor: await floor(server.url),
      baton: await baton(server.url),
    }
    const keysOf = (name: string) =>
      Array.from({ length: parallel }, (_, i) => `bench:${name}:${i}`)
    if (mode === 'profile') {
      const tally = { cycles: 0, wallMs: 0, cpuUs: 0 }
      await block(contenders.baton.cycle, keysOf('baton'), seconds * 1000, tally)
      console.log(`baton only: ${(tally.cpuUs / tally.cycles).toFixed(1)} µs CPU per cycle`)
      await Promise.all(Object.values(contenders).map((c) => c.close()))
      return
    }
    const tallies: Record<string, Tally> = {
      floor: { cycles: 0, wallMs: 0, cpuUs: 0 },
      baton: { cycles: 0, wallMs: 0, cpuUs: 0 },
    }
    // Warm-up, then shuffled blocks.
    for (const [name, c] of Object.entries(contenders)) {
      await block(c.cycle, keysOf(name), 500, { cycles: 0, wallMs: 0, cpuUs: 0 })
    }
    const load = [loadavg()[0] ?? 0]
    const blocks = Math.max(2, Math.round((seconds * 1000) / BLOCK_MS / 2))
    for (let i = 0; i < blocks; i++) {
      const order = Math.random() < 0.5 ? ['floor', 'baton'] : ['baton', 'floor']
      for (const name of order) {
        const c = contenders[name as keyof typeof contenders]
        await block(c.cycle, keysOf(name), BLOCK_MS, tallies[name] as Tally)
      }
    }
    load.push(loadavg()[0] ?? 0)
    const rate = (t: Tally) => (t.cycles / t.wallMs) * 1000
    const cpu = (t: Tally) => t.cpuUs / t.cycles
    const [f, b] = [tallies.floor as Tally, tallies.baton as Tally]
    console.log(
      `mode ${mode} (${parallel} key${parallel > 1 ? 's' : ''} at once), ${blocks} x 2 blocks of ${BLOCK_MS} ms, ` +
        `${cpus().length} cores, load ${load.map((l) => l.toFixed(1)).join(' -> ')}`,
    )
    console.log(`floor: ${rate(f).toFixed(0)} cycles/s, ${cpu(f).toFixed(1)} µs CPU/cycle`)
    console.log(
      `baton: ${rate(b).toFixed(0)} cycles/s (${(rate(b) / rate(f)).toFixed(2)}x), ` +
        `${cpu(b).toFixed(1)} µs CPU/cycle (${(cpu(b) / cpu(f)).toFixed(2)}x)`,
    )
    await Promise.all(Object.values(contenders).map((c) => c.close()))
  } finally {
    await server.stop()
  }
}

await main()
